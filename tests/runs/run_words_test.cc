// Runs in words: the notification sentence for each kind of run and status,
// and which statuses notify under each preference.
#include <gtest/gtest.h>

#include "runs/operations.h"
#include "runs/run_words.h"

namespace ta::runs {
namespace {

using store::RunRecord;
using store::RunStatus;

RunRecord MakeRun(const char* type, RunStatus status, int64_t total, int64_t failed = 0,
              int64_t skipped = 0) {
  RunRecord r;
  r.type = type;
  r.status = status;
  r.total = total;
  r.failed = failed;
  r.skipped = skipped;
  r.succeeded = total - failed - skipped;
  return r;
}

TEST(RunWords, SentencesNameTheTenantTheObjectAndTheOutcome) {
  const RunWords restore{"Fabrikam", "\u201cBaseline\u201d from Contoso", "Contoso",
                         "\u201cBaseline\u201d"};
  EXPECT_EQ(RunSentence(MakeRun(kRestoreExecute, RunStatus::kPartiallySucceeded, 26, 2), restore),
            "Restore of 26 items from \u201cBaseline\u201d of Contoso into Fabrikam partially "
            "succeeded: 2 failed");
  EXPECT_EQ(RunSentence(MakeRun(kRestorePreview, RunStatus::kQueued, 0), restore),
            "Restore preview from \u201cBaseline\u201d of Contoso into Fabrikam is queued");
  const RunWords in_place{"Contoso", "", "Contoso", "\u201cBaseline\u201d"};
  EXPECT_EQ(RunSentence(MakeRun(kRestoreExecute, RunStatus::kSucceeded, 1), in_place),
            "Restore of 1 item from \u201cBaseline\u201d into Contoso succeeded");
  const RunWords contoso{"Contoso", "\u201cWin10 kiosk\u201d", "", ""};
  EXPECT_EQ(RunSentence(MakeRun(kCaptureSnapshot, RunStatus::kCancelled, 1), contoso),
            "Snapshot of \u201cWin10 kiosk\u201d in Contoso was cancelled");
  EXPECT_EQ(RunSentence(MakeRun(kInventorySync, RunStatus::kFailed, 0), {"Contoso", "", "", ""}),
            "Inventory sync of Contoso failed");
  EXPECT_EQ(RunSentence(MakeRun(kBackupSetCreate, RunStatus::kSucceeded, 40, 0, 3),
                        {"Contoso", "", "", "\u201cNightly\u201d"}),
            "Backup set \u201cNightly\u201d of 40 items in Contoso succeeded: 3 skipped");
  EXPECT_EQ(RunSentence(MakeRun(kConnectionCheck, RunStatus::kFailed, 40, 1, 39),
                        {"Contoso", "", "", ""}),
            "Connection check of Contoso failed: 1 failed, 39 skipped");
}

TEST(RunWords, PreferencesAndSchedulesDecideWhoIsNotified) {
  const RunStatus all[] = {RunStatus::kQueued,    RunStatus::kRunning,
                           RunStatus::kSucceeded, RunStatus::kPartiallySucceeded,
                           RunStatus::kFailed,    RunStatus::kCancelled};
  for (RunStatus s : all) {
    const bool bad = s == RunStatus::kFailed || s == RunStatus::kPartiallySucceeded;
    EXPECT_TRUE(ShouldNotify("all", s, false));
    EXPECT_EQ(ShouldNotify("finished", s, false), store::IsTerminal(s));
    EXPECT_EQ(ShouldNotify("failures", s, false), bad);
    // A scheduled run notifies only when it fails, whatever the preference.
    EXPECT_EQ(ShouldNotify("all", s, true), bad);
    EXPECT_EQ(ShouldNotify("finished", s, true), bad);
  }
}

}  // namespace
}  // namespace ta::runs
