#pragma once

// The route table: every API route with who may call it. The router, the
// OpenAPI conformance test and the authorization matrix test all read this
// one table, so a route cannot be added without being documented and tested.

#include <string_view>
#include <vector>

#include "api/context.h"
#include "api/http.h"
#include "core/result.h"

namespace ta::api {

enum class Access {
  kPublic,         // no credentials
  kUser,           // any signed-in user; acts on their own records only
  kPlatformAdmin,  // users.is_platform_admin
  kTenantRead,     // member of {tenant} with any role
  kTenantOperate,  // operator or owner of {tenant}
  kTenantOwner,    // owner of {tenant}
};
// "public", "user", "platform_admin", "readonly", "operator", "owner": the
// spelling used by docs/openapi.yaml's x-required-role.
std::string_view AccessName(Access access);

enum class BodyKind { kNone, kJson };

using Handler = Result<Response> (*)(ApiContext& ctx, Request& req);

struct Route {
  std::string_view method;   // GET, POST, PUT, DELETE
  std::string_view pattern;  // "/api/v1/tenants/{tenant}/runs/{run}"
  Access access;
  BodyKind body;
  std::string_view query;  // allowed query parameters, comma-separated
  Handler handler;
};

const std::vector<Route>& RouteTable();

// The whole request path: match, authenticate, authorize, validate the
// envelope (body size and type, query names), replay Idempotency-Key, run the
// handler, and turn every error into problem+json. Never throws.
Response Dispatch(ApiContext& ctx, Request& req);

// Handlers, grouped by file.
namespace handlers {
// account.cc
Result<Response> Login(ApiContext&, Request&);
Result<Response> Logout(ApiContext&, Request&);
Result<Response> Me(ApiContext&, Request&);
Result<Response> ListTokens(ApiContext&, Request&);
Result<Response> CreateToken(ApiContext&, Request&);
Result<Response> RevokeToken(ApiContext&, Request&);
Result<Response> ListTenants(ApiContext&, Request&);
Result<Response> CreateTenant(ApiContext&, Request&);
Result<Response> GetTenant(ApiContext&, Request&);
Result<Response> SetCredentials(ApiContext&, Request&);
Result<Response> ImportTenants(ApiContext&, Request&);
Result<Response> GetPlatformApp(ApiContext&, Request&);
Result<Response> SetPlatformApp(ApiContext&, Request&);
Result<Response> StartOnboarding(ApiContext&, Request&);
Result<Response> OnboardingCallback(ApiContext&, Request&);
Result<Response> CreateCertificateCredentials(ApiContext&, Request&);
Result<Response> GetCertificate(ApiContext&, Request&);
Result<Response> SetTenantRetention(ApiContext&, Request&);
Result<Response> ApplyTenantRetention(ApiContext&, Request&);
Result<Response> ListMembers(ApiContext&, Request&);
Result<Response> AddMember(ApiContext&, Request&);
Result<Response> RemoveMember(ApiContext&, Request&);
// alerts.cc
Result<Response> ListAlertChannels(ApiContext&, Request&);
Result<Response> CreateAlertChannel(ApiContext&, Request&);
Result<Response> UpdateAlertChannel(ApiContext&, Request&);
Result<Response> DeleteAlertChannel(ApiContext&, Request&);
Result<Response> TestAlertChannel(ApiContext&, Request&);
Result<Response> ListAlertDeliveries(ApiContext&, Request&);
// drift.cc
Result<Response> DetectDrift(ApiContext&, Request&);
Result<Response> ListDriftFindings(ApiContext&, Request&);
Result<Response> GetDriftFinding(ApiContext&, Request&);
Result<Response> AcceptDriftFinding(ApiContext&, Request&);
Result<Response> RevertDriftFinding(ApiContext&, Request&);
Result<Response> SetBaselineSet(ApiContext&, Request&);
// schedules.cc
Result<Response> ListSchedules(ApiContext&, Request&);
Result<Response> CreateSchedule(ApiContext&, Request&);
Result<Response> GetSchedule(ApiContext&, Request&);
Result<Response> UpdateSchedule(ApiContext&, Request&);
Result<Response> DeleteSchedule(ApiContext&, Request&);
Result<Response> ListScheduleSlots(ApiContext&, Request&);
Result<Response> PreviewSchedule(ApiContext&, Request&);
Result<Response> Portfolio(ApiContext&, Request&);
// policies.cc
Result<Response> ListPolicies(ApiContext&, Request&);
Result<Response> GetPolicy(ApiContext&, Request&);
Result<Response> SyncPolicies(ApiContext&, Request&);
Result<Response> CapturePolicy(ApiContext&, Request&);
Result<Response> ListVersions(ApiContext&, Request&);
Result<Response> GetVersion(ApiContext&, Request&);
Result<Response> ListGroups(ApiContext&, Request&);
Result<Response> ListBackupSets(ApiContext&, Request&);
Result<Response> CreateBackupSet(ApiContext&, Request&);
Result<Response> GetBackupSet(ApiContext&, Request&);
Result<Response> PinBackupSet(ApiContext&, Request&);
Result<Response> ListBackupItems(ApiContext&, Request&);
Result<Response> SuggestMapping(ApiContext&, Request&);
Result<Response> CatalogTypes(ApiContext&, Request&);
Result<Response> BackupSetDocument(ApiContext&, Request&);
Result<Response> PreviewRestore(ApiContext&, Request&);
Result<Response> ExecuteRestore(ApiContext&, Request&);
// runs.cc
Result<Response> ListRuns(ApiContext&, Request&);
Result<Response> ListAllRuns(ApiContext&, Request&);
Result<Response> SetPreferences(ApiContext&, Request&);
Result<Response> SetTenantTags(ApiContext&, Request&);
Result<Response> CheckConnection(ApiContext&, Request&);
Result<Response> ActiveRuns(ApiContext&, Request&);
Result<Response> ActiveRunsStream(ApiContext&, Request&);
Result<Response> GetRun(ApiContext&, Request&);
Result<Response> ListRunItems(ApiContext&, Request&);
Result<Response> CancelRun(ApiContext&, Request&);
Result<Response> RunEvents(ApiContext&, Request&);
Result<Response> ListAudit(ApiContext&, Request&);
Result<Response> ListNotifications(ApiContext&, Request&);
Result<Response> MarkNotificationRead(ApiContext&, Request&);
Result<Response> MarkAllNotificationsRead(ApiContext&, Request&);
Result<Response> NotificationStream(ApiContext&, Request&);
// service.cc
Result<Response> Healthz(ApiContext&, Request&);
Result<Response> Readyz(ApiContext&, Request&);
Result<Response> MetricsText(ApiContext&, Request&);
}  // namespace handlers

}  // namespace ta::api
