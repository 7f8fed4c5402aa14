#pragma once

// Documentation of a backup set that an MSP can hand to a customer: every
// object with its type, platform, assignments (group and filter names), scope
// tags and every setting as a readable name and value (settings catalog ids
// resolved through the tenant's cached setting definitions). Encrypted values
// and script bodies are never written. Markdown, one self-contained HTML file
// that prints well, or CSV (one row per fact). Streamed: items are read a page
// at a time and written as they are rendered, so a set of any size needs
// memory for one page.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/database.h"

namespace ta::report {

enum class Format { kMarkdown, kHtml, kCsv };

// "md", "html" or "csv"; InvalidArgument naming `format` otherwise.
Result<Format> ParseFormat(std::string_view text);
std::string_view ContentType(Format format);
std::string_view Extension(Format format);

// Receives the document piece by piece; returns false when the reader is
// gone (the rest is not rendered).
using Write = std::function<bool(std::string_view)>;

// One object as the document renders it, without names for what it refers
// to (ids stay ids): what WriteBackupSetDocument writes per item.
std::string RenderObject(Format format, std::string_view type, const std::string& name,
                         const std::string& payload, const std::string& assignments);

// Checks the set belongs to the tenant (NotFound / PermissionDenied as
// BackupSets::Get), then writes its document. `page` items per read.
Status WriteBackupSetDocument(store::Database& db, int64_t tenant_id, int64_t set_id,
                              Format format, const Write& write, int64_t page = 100);

}  // namespace ta::report
