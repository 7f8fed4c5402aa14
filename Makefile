# The two commands of the README. Everything else lives in scripts/.
.PHONY: run test build bootstrap format clean package

run:
	scripts/run $(ARGS)

test:
	scripts/test

build:
	scripts/bootstrap && scripts/build

bootstrap:
	scripts/bootstrap

# The Debian package (build/dist/tenantatlas_<version>_amd64.deb), lintian-checked.
package:
	scripts/bootstrap --test && scripts/package

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf build
