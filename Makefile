# The two commands of the README. Everything else lives in scripts/.
.PHONY: run test build bootstrap format clean

run:
	scripts/run $(ARGS)

test:
	scripts/test

build:
	scripts/bootstrap && scripts/build

bootstrap:
	scripts/bootstrap

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf build
