// What Graph answers, parsed by us: the catalog's strip for create and
// update, the content hash, the field diff against the stripped copy, the
// references found and mapped, the sub-resource writes computed, and
// paging (a page with an @odata.nextLink), and the object as a document
// renders it in every format. Nothing may throw or crash.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "graph/graph_client.h"
#include "ops/capture.h"
#include "ops/json_diff.h"
#include "report/document.h"

namespace {

// Answers the fuzzed page first, then an empty last page.
class OnePage final : public ta::graph::GraphReader {
 public:
  explicit OnePage(nlohmann::json page) : page_(std::move(page)) {}
  ta::graph::GraphResult<nlohmann::json> Get(const std::string&) override {
    if (calls_++ == 0) return page_;
    return nlohmann::json::object();
  }
  ta::graph::GraphResult<std::optional<std::vector<std::string>>> Roles() override {
    return std::optional<std::vector<std::string>>();
  }

 private:
  nlohmann::json page_;
  int calls_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  const nlohmann::json assignments =
      j.is_object() ? j.value("assignments", nlohmann::json()) : nlohmann::json();
  for (const auto& type : ta::catalog::Catalog()) {
    for (bool update : {false, true}) {
      const nlohmann::json body = ta::catalog::StripForWrite(type, j, update);
      (void)ta::ops::ToJson(ta::ops::ContentDiff(type, j, assignments, body, assignments));
    }
    (void)ta::ops::ContentHash(type, j, assignments);
    // References and the sub-resource writes computed from a live state.
    (void)ta::catalog::FindReferences(type, j, assignments);
    (void)ta::catalog::MapReferences(type, j, assignments, {{"x", "y"}}, false);
    for (const auto& sub : type.sub_resources) {
      const nlohmann::json v =
          j.is_object() ? j.value(std::string(sub.property), nlohmann::json()) : j;
      (void)ta::catalog::DefinitionValuesBody(v, j, "https://g/beta/");
      (void)ta::catalog::EntryWrites(sub, v, j);
      (void)ta::catalog::ScheduleActionsBody(v);
      (void)ta::catalog::UpdateSettingsBody(v);
      (void)ta::catalog::PolicySetUpdateBody(v, j);
      (void)ta::catalog::TargetAppsBody(v, j);
    }
    (void)ta::catalog::CreatePath(type, j);
    (void)ta::catalog::NeedsContentUpload(type, j);
    (void)ta::catalog::PlatformOf(type, j);
    // The documentation of such an object, in every format.
    const std::string text = j.dump(), assigned = assignments.dump();
    for (auto format : {ta::report::Format::kMarkdown, ta::report::Format::kHtml,
                        ta::report::Format::kCsv})
      (void)ta::report::RenderObject(format, type.name, "fuzzed", text, assigned);
  }
  OnePage reader(j);
  (void)ta::graph::ListAll(reader, "deviceManagement/deviceConfigurations");
  return 0;
}
