#include "report/document.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "store/accounts.h"
#include "store/backup_sets.h"
#include "store/inventory.h"

namespace ta::report {

using nlohmann::json;

namespace {

// One object as the document shows it.
struct Row {
  std::string name, value;
};
struct Described {
  std::string name, type, platform, description;
  std::vector<std::string> assignments, scope_tags, notes;
  std::vector<Row> settings;
};

// What a page of items refers to, by id: names of groups, filters, scope
// tags and other objects; setting definitions.
struct Names {
  std::map<std::string, std::string> objects;
  std::map<std::string, store::Inventory::SettingDefinition> definitions;
  std::string Of(const std::string& id) const {
    auto it = objects.find(id);
    return it == objects.end() ? id : it->second + " (" + id + ")";
  }
};

std::string Scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "(not set)";
  return v.dump();
}

// Stored payloads are what Graph answered, so any shape: these read a member
// whatever `o` is (null, or `fallback`, when it is not there).
const json& At(const json& o, const char* key) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}
std::string Text(const json& o, const char* key, const std::string& fallback) {
  const json& v = At(o, key);
  return v.is_null() ? fallback : Scalar(v);
}
// A member that should be a list, as one (empty when it is anything else).
const json& List(const json& o, const char* key) {
  static const json kEmpty = json::array();
  const json& v = At(o, key);
  return v.is_array() ? v : kEmpty;
}

// "passwordMinimumLength" -> "Password minimum length" (acronyms kept: "osMinimumVersion").
std::string Humanize(const std::string& key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    const bool word_start = std::isupper(c) && i > 0 &&
                            std::islower(static_cast<unsigned char>(key[i - 1]));
    if (word_start) out += ' ';
    const bool lone_capital = word_start && (i + 1 >= key.size() ||
                                             !std::isupper(static_cast<unsigned char>(key[i + 1])));
    out += static_cast<char>(i == 0 ? std::toupper(c) : lone_capital ? std::tolower(c) : c);
  }
  return out;
}

bool ScriptField(const std::string& key) {
  const std::string suffix = "ScriptContent";
  return key == "scriptContent" ||
         (key.size() > suffix.size() &&
          key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0);
}

void Flatten(const std::string& name, const json& v, std::vector<Row>& out);

// One property `key` shown as `name`: a script body is described, not shown.
void Field(const std::string& name, const std::string& key, const json& v, std::vector<Row>& out) {
  if (ScriptField(key) && v.is_string())
    out.push_back({name, "(script, " + std::to_string(v.get<std::string>().size()) +
                             " bytes of base64, not shown)"});
  else
    Flatten(name, v, out);
}

// Flattens a value into rows "Parent > Child: value"; secrets and scripts
// are named, never shown.
void Flatten(const std::string& name, const json& v, std::vector<Row>& out) {
  if (v.is_object()) {
    if (v.contains("secretValue")) {
      out.push_back({name.empty() ? "Encrypted value" : name, "(encrypted value, not shown)"});
      return;
    }
    for (const auto& [k, x] : v.items()) {
      if (k.find("@odata.") != std::string::npos || k == "id" || k == "secretReferenceValueId")
        continue;
      const std::string child = name.empty() ? Humanize(k) : name + " > " + Humanize(k);
      Field(child, k, x, out);
    }
    return;
  }
  if (v.is_array()) {
    if (std::all_of(v.begin(), v.end(), [](const json& x) { return !x.is_structured(); })) {
      std::string joined;
      for (const auto& x : v) joined += (joined.empty() ? "" : ", ") + Scalar(x);
      out.push_back({name, v.empty() ? "(none)" : joined});
      return;
    }
    for (size_t i = 0; i < v.size(); ++i) {
      // An entry named by itself (an OMA setting, a rule) reads better than "[2]".
      std::string label = "#" + std::to_string(i + 1);
      if (v[i].is_object())
        for (const char* k : {"displayName", "ruleName", "locale", "name", "appConfigKey"})
          if (v[i].contains(k) && v[i][k].is_string()) {
            label = v[i][k].get<std::string>();
            break;
          }
      Flatten(name + " > " + label, v[i], out);
    }
    return;
  }
  out.push_back({name, Scalar(v)});
}

// A settings catalog setting instance, its children included.
void SettingRows(const json& instance, const std::string& parent, const Names& names,
                 std::vector<Row>& out) {
  if (!instance.is_object()) return;
  const std::string id = Text(instance, "settingDefinitionId", "");
  auto def = names.definitions.find(id);
  const std::string label =
      (parent.empty() ? "" : parent + " > ") + (def == names.definitions.end() ? id : def->second.display_name);
  const json options = def == names.definitions.end()
                           ? json::object()
                           : json::parse(def->second.options, nullptr, false);
  auto option = [&](const json& v) {
    const std::string raw = Scalar(v);
    return options.is_object() && options.contains(raw) && options[raw].is_string()
               ? options[raw].get<std::string>()
               : raw;
  };
  auto children = [&](const json& value, const std::string& under) {
    for (const auto& c : List(value, "children")) SettingRows(c, under, names, out);
  };
  if (instance.contains("choiceSettingValue")) {
    const json& c = instance["choiceSettingValue"];
    out.push_back({label, option(At(c, "value"))});
    children(c, label);
  } else if (instance.contains("simpleSettingValue")) {
    out.push_back({label, Scalar(At(instance["simpleSettingValue"], "value"))});
  } else if (instance.contains("choiceSettingCollectionValue")) {
    std::string joined;
    for (const auto& c : List(instance, "choiceSettingCollectionValue"))
      joined += (joined.empty() ? "" : ", ") + option(At(c, "value"));
    out.push_back({label, joined});
  } else if (instance.contains("simpleSettingCollectionValue")) {
    std::string joined;
    for (const auto& c : List(instance, "simpleSettingCollectionValue"))
      joined += (joined.empty() ? "" : ", ") + Scalar(At(c, "value"));
    out.push_back({label, joined});
  } else if (instance.contains("groupSettingCollectionValue")) {
    const json& groups = List(instance, "groupSettingCollectionValue");
    for (size_t i = 0; i < groups.size(); ++i)
      children(groups[i], label + (groups.size() > 1 ? " #" + std::to_string(i + 1) : ""));
  } else if (instance.contains("groupSettingValue")) {
    children(instance["groupSettingValue"], label);
  } else {
    std::vector<Row> rest;
    Flatten(label, instance, rest);
    out.insert(out.end(), rest.begin(), rest.end());
  }
}

std::string AssignmentText(const json& a, const Names& names) {
  const json& t = At(a, "target");
  const std::string odata = Text(t, "@odata.type", "");
  std::string who = odata.find("allDevices") != std::string::npos         ? "All devices"
                    : odata.find("allLicensedUsers") != std::string::npos ? "All users"
                    : !At(t, "groupId").is_null() ? "group " + names.Of(Scalar(At(t, "groupId")))
                                            : odata;
  if (odata.find("exclusion") != std::string::npos) who = "exclude " + who;
  std::string out = who;
  if (At(a, "intent").is_string()) out += ", " + At(a, "intent").get<std::string>();
  const std::string filter = Text(t, "deviceAndAppManagementAssignmentFilterId", "");
  if (!filter.empty() && filter != "00000000-0000-0000-0000-000000000000")
    out += ", filter " + names.Of(filter) + " (" +
           Text(t, "deviceAndAppManagementAssignmentFilterType", "include") + ")";
  return out;
}

Described Describe(const catalog::PolicyType& type, const std::string& name, const json& payload,
                   const json& assignments, const Names& names) {
  Described d;
  d.name = name;
  d.type = std::string(catalog::TypeTitle(type.name));
  d.platform = catalog::PlatformOf(type, payload);
  d.description = Text(payload, "description", "");
  for (const auto& a : assignments.is_array() ? assignments : json::array())
    d.assignments.push_back(AssignmentText(a, names));
  for (const auto& t : List(payload, "roleScopeTagIds"))
      d.scope_tags.push_back(Scalar(t) == "0" ? "Default" : names.Of(Scalar(t)));
  if (catalog::NeedsContentUpload(type, payload))
    d.notes.push_back("the app's content (package) is not in the backup: upload it again");
  if (!payload.is_object()) return d;
  for (const auto& [k, v] : payload.items()) {
    if (std::find(type.read_only_fields.begin(), type.read_only_fields.end(), k) !=
            type.read_only_fields.end() ||
        k.find("@odata.") != std::string::npos || k == type.display_name_field ||
        k == "description" || k == "roleScopeTagIds")
      continue;
    if (k == "settings" && type.name == "settingsCatalog") {
      for (const auto& s : List(payload, "settings"))
        SettingRows(At(s, "settingInstance"), "", names, d.settings);
    } else if (k == "settingInstance") {
      SettingRows(v, "", names, d.settings);
    } else if (k == "definitionValues") {
      for (const auto& dv : List(payload, "definitionValues")) {
        const json& def = At(dv, "definition");
        const std::string label = Text(def, "displayName", Text(def, "id", "definition"));
        d.settings.push_back({label, At(dv, "enabled") == true ? "Enabled" : "Disabled"});
        for (const auto& pv : List(dv, "presentationValues")) {
          const json& pres = At(pv, "presentation");
          d.settings.push_back({label + " > " + Text(pres, "label", Text(pres, "id", "value")),
                                Scalar(At(pv, "value").is_null() ? At(pv, "values")
                                                                 : At(pv, "value"))});
        }
      }
    } else if (k == "settings" && type.name == "endpointSecurityIntent") {
      for (const auto& s : List(payload, "settings"))
        d.settings.push_back({Text(s, "definitionId", ""), Text(s, "valueJson", "")});
    } else {
      Field(Humanize(k), k, v, d.settings);
    }
  }
  // References shown by name where they are (each of a list, too).
  for (auto& r : d.settings) {
    std::string named;
    for (size_t start = 0; start <= r.value.size();) {
      size_t end = r.value.find(", ", start);
      if (end == std::string::npos) end = r.value.size();
      named += (start ? ", " : "") + names.Of(r.value.substr(start, end - start));
      start = end + 2;
    }
    r.value = named;
  }
  return d;
}

// --- Writers -------------------------------------------------------------

std::string Md(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|' || c == '\\' || c == '*' || c == '_' || c == '`' || c == '<' || c == '[')
      out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

std::string Html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// RFC 4180, and a cell a spreadsheet would run as a formula starts with '.
std::string Csv(const std::string& s) {
  std::string v = s;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t'))
    v = "'" + v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string Join(const std::vector<std::string>& v, const std::string& none) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : "; ") + x;
  return out.empty() ? none : out;
}

std::string IsoDate(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

struct Header {
  std::string tenant, set_name, created;
  int64_t objects = 0;
  std::vector<std::pair<std::string, int64_t>> by_type;
};

std::string Begin(Format f, const Header& h) {
  const std::string title = h.tenant + ": backup set \"" + h.set_name + "\"";
  const std::string sub = std::to_string(h.objects) + " objects, captured " + h.created +
                          ". Encrypted values and script bodies are not shown.";
  switch (f) {
    case Format::kMarkdown: {
      std::string out = "# " + Md(title) + "\n\n" + Md(sub) + "\n\n| Type | Objects |\n|---|---|\n";
      for (const auto& [t, n] : h.by_type) out += "| " + Md(t) + " | " + std::to_string(n) + " |\n";
      return out + "\n";
    }
    case Format::kHtml: {
      std::string out =
          "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
          Html(title) +
          "</title>\n<style>\n"
          "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;"
          "max-width:70rem;margin:2rem auto;padding:0 1rem}\n"
          "h1{font-size:1.6rem}h2{font-size:1.15rem;margin:0 0 .4rem}\n"
          "section{border-top:2px solid #d0d7de;padding-top:.8rem;margin-top:1.4rem;"
          "break-inside:avoid-page}\n"
          "table{border-collapse:collapse;width:100%;margin:.4rem 0}\n"
          "th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;"
          "vertical-align:top;overflow-wrap:anywhere}\n"
          "th{background:#f3f5f7;width:28%}.muted{color:#57606a}.note{color:#7d4e00}\n"
          "@media print{body{margin:0;max-width:none;font-size:10.5pt}"
          "section{break-inside:avoid}th{background:none}a{color:inherit}}\n"
          "</style></head><body>\n<h1>" +
          Html(title) + "</h1>\n<p class=\"muted\">" + Html(sub) +
          "</p>\n<table><tr><th>Type</th><th>Objects</th></tr>\n";
      for (const auto& [t, n] : h.by_type)
        out += "<tr><td>" + Html(t) + "</td><td>" + std::to_string(n) + "</td></tr>\n";
      return out + "</table>\n";
    }
    case Format::kCsv:
      return "object,type,platform,section,name,value\r\n";
  }
  return "";
}

std::string Object(Format f, const Described& d) {
  const std::vector<Row> meta = {{"Type", d.type},
                                 {"Platform", d.platform.empty() ? "—" : d.platform},
                                 {"Description", d.description.empty() ? "—" : d.description},
                                 {"Scope tags", Join(d.scope_tags, "—")},
                                 {"Assignments", Join(d.assignments, "none")}};
  switch (f) {
    case Format::kMarkdown: {
      std::string out = "## " + Md(d.name) + "\n\n| | |\n|---|---|\n";
      for (const auto& r : meta) out += "| " + r.name + " | " + Md(r.value) + " |\n";
      for (const auto& n : d.notes) out += "| Note | " + Md(n) + " |\n";
      if (!d.settings.empty()) {
        out += "\n| Setting | Value |\n|---|---|\n";
        for (const auto& r : d.settings) out += "| " + Md(r.name) + " | " + Md(r.value) + " |\n";
      }
      return out + "\n";
    }
    case Format::kHtml: {
      std::string out = "<section>\n<h2>" + Html(d.name) + "</h2>\n<table>\n";
      for (const auto& r : meta)
        out += "<tr><th>" + r.name + "</th><td>" + Html(r.value) + "</td></tr>\n";
      for (const auto& n : d.notes)
        out += "<tr><th>Note</th><td class=\"note\">" + Html(n) + "</td></tr>\n";
      out += "</table>\n";
      if (!d.settings.empty()) {
        out += "<table>\n<tr><th>Setting</th><th>Value</th></tr>\n";
        for (const auto& r : d.settings)
          out += "<tr><td>" + Html(r.name) + "</td><td>" + Html(r.value) + "</td></tr>\n";
        out += "</table>\n";
      }
      return out + "</section>\n";
    }
    case Format::kCsv: {
      std::string out;
      const std::string head = Csv(d.name) + "," + Csv(d.type) + "," + Csv(d.platform) + ",";
      auto line = [&](const std::string& section, const std::string& name,
                      const std::string& value) {
        out += head + Csv(section) + "," + Csv(name) + "," + Csv(value) + "\r\n";
      };
      if (!d.description.empty()) line("object", "Description", d.description);
      for (const auto& t : d.scope_tags) line("scope tag", "Scope tag", t);
      for (const auto& a : d.assignments) line("assignment", "Assignment", a);
      for (const auto& n : d.notes) line("note", "Note", n);
      for (const auto& r : d.settings) line("setting", r.name, r.value);
      if (d.assignments.empty() && d.settings.empty() && d.description.empty())
        line("object", "Type", d.type);
      return out;
    }
  }
  return "";
}

std::string End(Format f) {
  return f == Format::kHtml ? "<p class=\"muted\">Generated by TenantAtlas.</p>\n</body></html>\n"
                            : "";
}

}  // namespace

std::string RenderObject(Format format, std::string_view type, const std::string& name,
                         const std::string& payload, const std::string& assignments) {
  const catalog::PolicyType* t = catalog::FindPolicyType(type);
  if (!t) return "";
  return Object(format, Describe(*t, name, json::parse(payload, nullptr, false),
                                 json::parse(assignments, nullptr, false), Names{}));
}

Result<Format> ParseFormat(std::string_view text) {
  if (text == "md" || text == "markdown") return Format::kMarkdown;
  if (text == "html") return Format::kHtml;
  if (text == "csv") return Format::kCsv;
  return Unexpected(Status::InvalidArgument("format: must be md, html or csv, got '" +
                                            std::string(text) + "'"));
}

std::string_view ContentType(Format f) {
  switch (f) {
    case Format::kMarkdown:
      return "text/markdown; charset=utf-8";
    case Format::kHtml:
      return "text/html; charset=utf-8";
    case Format::kCsv:
      return "text/csv; charset=utf-8";
  }
  return "text/plain";
}

std::string_view Extension(Format f) {
  return f == Format::kMarkdown ? "md" : f == Format::kHtml ? "html" : "csv";
}

Status WriteBackupSetDocument(store::Database& db, int64_t tenant_id, int64_t set_id, Format format,
                              const Write& write, int64_t page) {
  Header h;
  Status s = db.Read([&](store::Tx& tx) -> Status {
    auto set = store::BackupSets::Get(tx, tenant_id, set_id);
    if (!set) return set.error().WithContext("backup_set");
    auto tenant = store::Accounts::TenantById(tx, tenant_id);
    if (!tenant) return tenant.error();
    h.tenant = tenant->name;
    h.set_name = set->name;
    h.created = IsoDate(set->created_at);
    h.objects = set->item_count;
    auto by_type = store::BackupSets::CountByType(tx, tenant_id, set_id);
    if (!by_type) return by_type.error();
    for (auto& [type, n] : *by_type) h.by_type.emplace_back(catalog::TypeTitle(type), n);
    std::sort(h.by_type.begin(), h.by_type.end());
    return Status::Ok();
  });
  TA_RETURN_IF_ERROR(s);
  if (!write(Begin(format, h))) return Status::Ok();
  for (int64_t after = 0;;) {
    std::vector<store::BackupItemRecord> items;
    Names names;
    s = db.Read([&](store::Tx& tx) -> Status {
      auto got = store::BackupSets::Items(tx, tenant_id, set_id, std::nullopt, after, page);
      if (!got) return got.error();
      items = std::move(*got);
      std::vector<std::string> ids, settings;
      for (const auto& i : items) {
        const catalog::PolicyType* type = catalog::FindPolicyType(i.type);
        const json payload = json::parse(i.payload, nullptr, false);
        const json assignments = json::parse(i.assignments, nullptr, false);
        if (type)
          for (const auto& r : catalog::FindReferences(*type, payload, assignments))
            ids.push_back(r.id);
        for (auto& id : catalog::SettingDefinitionIds(payload)) settings.push_back(std::move(id));
      }
      auto named = store::Inventory::NamesOf(tx, tenant_id, ids);
      if (!named) return named.error();
      names.objects = std::move(*named);
      std::sort(settings.begin(), settings.end());
      settings.erase(std::unique(settings.begin(), settings.end()), settings.end());
      auto defs = store::Inventory::Definitions(tx, tenant_id, settings);
      if (!defs) return defs.error();
      names.definitions = std::move(*defs);
      return Status::Ok();
    });
    TA_RETURN_IF_ERROR(s);
    if (items.empty()) break;
    std::string chunk;
    for (const auto& i : items) {
      const catalog::PolicyType* type = catalog::FindPolicyType(i.type);
      if (!type) continue;  // a type this build does not know: nothing to describe it with
      chunk += Object(format, Describe(*type, i.display_name, json::parse(i.payload, nullptr, false),
                                       json::parse(i.assignments, nullptr, false), names));
    }
    if (!write(chunk)) return Status::Ok();
    after = items.back().id;
    if (static_cast<int64_t>(items.size()) < page) break;
  }
  write(End(format));
  return Status::Ok();
}

}  // namespace ta::report
