#include "tenancy/tenant_import.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <nlohmann/json.hpp>

#include "store/accounts.h"

namespace ta::tenancy {

namespace {

std::string Trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};

// RFC 4180: fields separated by commas, optionally quoted ("" is a quote
// inside quotes; quoted fields may hold commas and line breaks); CRLF or LF.
// Blank lines are skipped.
Result<std::vector<CsvRecord>> ParseCsv(std::string_view text) {
  std::vector<CsvRecord> out;
  CsvRecord rec{1, {}};
  std::string field;
  bool quoted = false, was_quoted = false;
  int line = 1, quote_line = 0;
  auto end_field = [&] {
    rec.fields.push_back(was_quoted ? field : Trim(field));
    field.clear();
    was_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    const bool blank = rec.fields.size() == 1 && rec.fields[0].empty();
    if (!blank) out.push_back(std::move(rec));
    rec = CsvRecord{line + 1, {}};
  };
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a spreadsheet's BOM
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
    } else if (c == '"' && Trim(field).empty()) {
      field.clear();
      quoted = was_quoted = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n') {
      end_record();
      ++line;
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  if (quoted)
    return Unexpected(Status::InvalidArgument(
        "csv: the quote opened on line " + std::to_string(quote_line) +
        " is never closed; close it, or double a quote inside a field (\"\")"));
  if (!field.empty() || !rec.fields.empty()) end_record();
  return out;
}

constexpr const char* kColumns = "name, entra_tenant_id, cloud, tags";

}  // namespace

Result<std::string> NormalizeTags(const std::vector<std::string>& tags, const std::string& field) {
  if (tags.size() > 20) return Unexpected(Status::InvalidArgument(field + ": at most 20 tags"));
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string t = Trim(tags[i]);
    if (t.empty() || t.size() > 40)
      return Unexpected(Status::InvalidArgument(field + "[" + std::to_string(i) +
                                                "]: 1 to 40 characters"));
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out.dump();
}

Result<std::vector<ImportRowResult>> ImportTenants(store::Database& db, const Actor& actor,
                                                   std::string_view csv,
                                                   std::optional<int64_t> owner,
                                                   size_t max_rows) {
  auto records = ParseCsv(csv);
  if (!records) return Unexpected(records.error());
  if (records->empty())
    return Unexpected(Status::InvalidArgument(std::string("csv: empty; the first line names the "
                                                          "columns: ") + kColumns));
  // The header: which column is which (any order, any case).
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < records->front().fields.size(); ++i) {
    std::string h = records->front().fields[i];
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
    if (h != "name" && h != "entra_tenant_id" && h != "cloud" && h != "tags")
      return Unexpected(Status::InvalidArgument("csv: unknown column \"" + h +
                                                "\" in the header; the columns are " + kColumns));
    if (col.count(h))
      return Unexpected(Status::InvalidArgument("csv: column \"" + h + "\" appears twice"));
    col[h] = i;
  }
  if (!col.count("name"))
    return Unexpected(Status::InvalidArgument(std::string("csv: the header has no \"name\" "
                                                          "column; the columns are ") +
                                              kColumns));
  if (records->size() - 1 > max_rows)
    return Unexpected(Status::InvalidArgument("csv: " + std::to_string(records->size() - 1) +
                                              " rows; import at most " +
                                              std::to_string(max_rows) + " at a time"));
  std::vector<ImportRowResult> results;
  for (size_t r = 1; r < records->size(); ++r) {
    const CsvRecord& rec = (*records)[r];
    auto cell = [&](const char* name) {
      auto it = col.find(name);
      return it == col.end() || it->second >= rec.fields.size() ? std::string()
                                                                : rec.fields[it->second];
    };
    ImportRowResult row;
    row.line = rec.line;
    row.name = cell("name");
    auto fail = [&](const std::string& field, const std::string& error) {
      row.status = "failed";
      row.field = field;
      row.error = error;
      results.push_back(row);
    };
    if (rec.fields.size() > records->front().fields.size()) {
      fail("csv", "the row has " + std::to_string(rec.fields.size()) + " fields, the header " +
                      std::to_string(records->front().fields.size()) +
                      "; quote a field that holds a comma");
      continue;
    }
    if (row.name.empty() || row.name.size() > 200) {
      fail("name", "name: 1 to 200 characters");
      continue;
    }
    const std::string entra = cell("entra_tenant_id");
    const std::string cloud = cell("cloud").empty() ? "global" : cell("cloud");
    std::vector<std::string> tags;
    for (std::string rest = cell("tags"); !rest.empty();) {
      const size_t semi = rest.find(';');
      tags.push_back(rest.substr(0, semi));
      rest = semi == std::string::npos ? "" : rest.substr(semi + 1);
    }
    auto stored_tags = NormalizeTags(tags, "tags");
    if (!stored_tags) {
      fail("tags", stored_tags.error().message() + " (separate tags with \";\")");
      continue;
    }
    if (Status s = ValidateDirectory(entra, cloud, /*entra_required=*/false); !s.ok()) {
      const std::string& m = s.message();
      fail(m.substr(0, m.find(':')), m);
      continue;
    }
    auto id = store::WriteResult<std::optional<int64_t>>(
        db, [&](store::Tx& tx) -> Result<std::optional<int64_t>> {
          auto existing = store::Accounts::TenantIdByName(tx, row.name);
          if (!existing) return Unexpected(existing.error());
          if (*existing) {
            row.tenant_id = **existing;
            return std::optional<int64_t>();
          }
          auto created = CreateTenant(tx, actor, row.name, owner);
          if (!created) return Unexpected(created.error());
          TA_RETURN_IF_ERROR(store::Accounts::SetTenantTags(tx, *created, *stored_tags));
          if (!entra.empty() || cloud != "global")
            TA_RETURN_IF_ERROR(store::Accounts::SetDirectory(tx, *created, entra, cloud));
          return std::optional<int64_t>(*created);
        });
    if (!id) {
      fail("name", id.error().message());
      continue;
    }
    row.status = *id ? "created" : "exists";
    if (*id) row.tenant_id = **id;
    results.push_back(row);
  }
  return results;
}

}  // namespace ta::tenancy
