package shared_test

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cofferhq/coffer/api/shared"
)

// middleHash is what TruncateName puts between the kept start and end of a long name.
var middleHash = regexp.MustCompile(`^-[0-9a-f]{8}-$`)

// dnsLabelShape and dnsSubdomainShape are DNS label and subdomain syntax without the length
// limit, for inputs that are too long by design.
var (
	dnsLabelShape     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomainShape = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// checkCut checks a middle-cut name: the kept start and end are there, a short hash separates
// them, and the length is wantLen.
func checkCut(t *testing.T, got, wantPrefix, wantSuffix string, wantLen int) {
	t.Helper()
	if len(got) != wantLen {
		t.Errorf("len(%q) = %d, want %d", got, len(got), wantLen)
	}
	if !strings.HasPrefix(got, wantPrefix) {
		t.Errorf("%q does not start with %q", got, wantPrefix)
		return
	}
	if !strings.HasSuffix(got, wantSuffix) {
		t.Errorf("%q does not end with %q", got, wantSuffix)
		return
	}
	if len(wantPrefix)+len(wantSuffix) > len(got) {
		t.Errorf("%q: kept start %q and end %q overlap", got, wantPrefix, wantSuffix)
		return
	}
	if middle := got[len(wantPrefix) : len(got)-len(wantSuffix)]; !middleHash.MatchString(middle) {
		t.Errorf("%q: middle %q is not -<8 hex digits>-", got, middle)
	}
}

func TestTruncateName(t *testing.T) {
	// long70 is a 70-character DNS label whose cut points (27 kept at the start, 26 at the end
	// for a limit of 63) fall on letters.
	long70 := "abcdefghijklmnopqrstuvwxyz0-" + strings.Repeat("m", 16) + "-zyxwvutsrqponmlkjihgfedcba"
	tests := map[string]struct {
		name  string
		limit int
		// want is the exact result; when empty the result is checked as a middle cut.
		want       string
		wantPrefix string
		wantSuffix string
		wantLen    int
	}{
		"empty name is unchanged": {
			name: "", limit: shared.MaxNameLength, want: "",
		},
		"short name is unchanged": {
			name: "daily-backup", limit: shared.MaxNameLength, want: "daily-backup",
		},
		"name exactly at the limit is unchanged": {
			name: strings.Repeat("a", 63), limit: 63, want: strings.Repeat("a", 63),
		},
		"name exactly at the CronJob limit is unchanged": {
			name: strings.Repeat("c", 52), limit: shared.MaxCronJobNameLength, want: strings.Repeat("c", 52),
		},
		"one over the limit is cut in the middle to the limit": {
			name:       strings.Repeat("a", 32) + strings.Repeat("b", 32),
			limit:      63,
			wantPrefix: strings.Repeat("a", 27),
			wantSuffix: strings.Repeat("b", 26),
			wantLen:    63,
		},
		"long name keeps its start and end": {
			name:       long70,
			limit:      63,
			wantPrefix: "abcdefghijklmnopqrstuvwxyz0",
			wantSuffix: "zyxwvutsrqponmlkjihgfedcba",
			wantLen:    63,
		},
		"long name cut to the CronJob limit": {
			name:       long70,
			limit:      shared.MaxCronJobNameLength,
			wantPrefix: "abcdefghijklmnopqrstu",
			wantSuffix: "utsrqponmlkjihgfedcba",
			wantLen:    52,
		},
		"odd room gives the extra character to the start": {
			name:       strings.Repeat("a", 20) + strings.Repeat("b", 20),
			limit:      31, // room 21: 11 kept at the start, 10 at the end
			wantPrefix: strings.Repeat("a", 11),
			wantSuffix: strings.Repeat("b", 10),
			wantLen:    31,
		},
		"smallest limit with a cut keeps one character each side": {
			name:       "abcdefghijklmnopqrstuvwxyz",
			limit:      12,
			wantPrefix: "a",
			wantSuffix: "z",
			wantLen:    12,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := shared.TruncateName(tc.name, tc.limit)
			if tc.wantLen == 0 {
				if got != tc.want {
					t.Errorf("TruncateName(%q, %d) = %q, want %q", tc.name, tc.limit, got, tc.want)
				}
				return
			}
			checkCut(t, got, tc.wantPrefix, tc.wantSuffix, tc.wantLen)
			if again := shared.TruncateName(tc.name, tc.limit); again != got {
				t.Errorf("TruncateName is not deterministic: %q then %q", got, again)
			}
			if fits := shared.TruncateName(got, tc.limit); fits != got {
				t.Errorf("TruncateName(%q) changed an already short name to %q", got, fits)
			}
		})
	}
}

func TestTruncateNameTinyLimit(t *testing.T) {
	// Below 12 characters there is no room for start, hash and end; only the hash is left.
	hex := regexp.MustCompile(`^[0-9a-f]*$`)
	tests := map[string]struct {
		limit   int
		wantLen int
	}{
		"limit 11 gives the 8-character hash": {limit: 11, wantLen: 8},
		"limit 8 gives the 8-character hash":  {limit: 8, wantLen: 8},
		"limit 5 gives 5 hash characters":     {limit: 5, wantLen: 5},
		"limit 0 gives nothing":               {limit: 0, wantLen: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := shared.TruncateName("a-name-longer-than-any-tiny-limit", tc.limit)
			if len(got) != tc.wantLen || !hex.MatchString(got) {
				t.Errorf("TruncateName(_, %d) = %q, want %d hex characters", tc.limit, got, tc.wantLen)
			}
		})
	}
}

func TestTruncateNameKeepsLongNamesDistinct(t *testing.T) {
	start := "postgres-production-cluster-backup-config-"
	end := "-frequent-backup-1704779101"
	tests := map[string]struct {
		a, b  string
		limit int
	}{
		"names differing only in the middle": {
			a:     start + "repository-one" + end,
			b:     start + "repository-two" + end,
			limit: shared.MaxNameLength,
		},
		"names differing in one middle character": {
			a:     start + strings.Repeat("x", 20) + "a" + strings.Repeat("x", 20) + end,
			b:     start + strings.Repeat("x", 20) + "b" + strings.Repeat("x", 20) + end,
			limit: shared.MaxNameLength,
		},
		"names differing in length only in the middle": {
			a:     start + "mid" + end,
			b:     start + "midd" + end,
			limit: shared.MaxNameLength,
		},
		"CronJob names differing only in the middle": {
			a:     "trigger-" + start + "a" + end,
			b:     "trigger-" + start + "b" + end,
			limit: shared.MaxCronJobNameLength,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ga, gb := shared.TruncateName(tc.a, tc.limit), shared.TruncateName(tc.b, tc.limit)
			if len(ga) > tc.limit || len(gb) > tc.limit {
				t.Fatalf("results over the limit %d: %q (%d), %q (%d)", tc.limit, ga, len(ga), gb, len(gb))
			}
			if ga == tc.a || gb == tc.b {
				t.Fatalf("test names must be over the limit: %q, %q", tc.a, tc.b)
			}
			if ga == gb {
				t.Errorf("%q and %q both truncate to %q", tc.a, tc.b, ga)
			}
		})
	}
}

func TestTruncateNameStaysValid(t *testing.T) {
	tests := map[string]struct {
		name  string
		limit int
		// subdomain: the input is a DNS subdomain (may hold dots), not a DNS label.
		subdomain bool
	}{
		"dashes around both cut points": {
			name:  strings.Repeat("a", 25) + "--" + strings.Repeat("b", 13) + "--" + strings.Repeat("c", 25),
			limit: 63,
		},
		"dash exactly where the kept start ends": {
			name:  strings.Repeat("a", 26) + "-" + strings.Repeat("b", 40),
			limit: 63,
		},
		"dash exactly where the kept end begins": {
			name:  strings.Repeat("a", 40) + "-" + strings.Repeat("b", 25),
			limit: 63,
		},
		"runs of dashes at both cut points": {
			name:  "a" + strings.Repeat("-", 40) + "b" + strings.Repeat("-", 40) + "c",
			limit: 63,
		},
		"dash at the CronJob cut points": {
			name:  strings.Repeat("a", 20) + "-" + strings.Repeat("b", 20) + "-" + strings.Repeat("c", 20),
			limit: shared.MaxCronJobNameLength,
		},
		"dots at the cut points of a subdomain": {
			name:      strings.Repeat("a", 26) + "." + strings.Repeat("b", 13) + "." + strings.Repeat("c", 25),
			limit:     63,
			subdomain: true,
		},
		"a typical long BackupSession name": {
			name:  "pvc-repo-persistentvolumeclaim-n-pvc-frequent-backup-1704779101-extra",
			limit: 63,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			validate, shape := validation.IsDNS1123Label, dnsLabelShape
			if tc.subdomain {
				validate, shape = validation.IsDNS1123Subdomain, dnsSubdomainShape
			}
			if !shape.MatchString(tc.name) || len(tc.name) <= tc.limit {
				t.Fatalf("test input %q must be shaped like a DNS name and longer than %d", tc.name, tc.limit)
			}
			got := shared.TruncateName(tc.name, tc.limit)
			if len(got) > tc.limit {
				t.Errorf("len(%q) = %d, over the limit %d", got, len(got), tc.limit)
			}
			if errs := validate(got); len(errs) != 0 {
				t.Errorf("TruncateName(%q) = %q, not valid: %v", tc.name, got, errs)
			}
			if got[0] != tc.name[0] || got[len(got)-1] != tc.name[len(tc.name)-1] {
				t.Errorf("TruncateName(%q) = %q lost the first or last character", tc.name, got)
			}
		})
	}
}

func TestGeneratedNames(t *testing.T) {
	longBC := "postgres-production-cluster-backup-config" // 41 characters
	tests := map[string]struct {
		got string
		// want is the exact name; when empty, got is checked as a middle cut.
		want       string
		wantPrefix string
		wantSuffix string
		wantLen    int
	}{
		"BackupSession is <invoker>-<session>-<unix>": {
			got:  shared.BackupSessionName("sample-bc", "daily", 1704779101),
			want: "sample-bc-daily-1704779101",
		},
		"long BackupSession keeps invoker start and session with timestamp": {
			got:        shared.BackupSessionName(longBC, "frequent-backup", 1704779101),
			wantPrefix: "postgres-production-cluster",
			wantSuffix: "frequent-backup-1704779101",
			wantLen:    shared.MaxNameLength,
		},
		"Snapshot is <repository>-<backup session>": {
			got:  shared.SnapshotName("gcs-repo", "sample-bc-daily-1704779101"),
			want: "gcs-repo-sample-bc-daily-1704779101",
		},
		"long Snapshot keeps the timestamp": {
			got:        shared.SnapshotName("persistentvolumeclaim-repository", "sample-backup-config-frequent-1704779101"),
			wantPrefix: "persistentvolumeclaim-repos",
			wantSuffix: "config-frequent-1704779101",
			wantLen:    shared.MaxNameLength,
		},
		"VerificationSession is <repository>-<session>-<unix>": {
			got:  shared.VerificationSessionName("gcs-repo", "daily", 1730194200),
			want: "gcs-repo-daily-1730194200",
		},
		"long VerificationSession is cut to 63": {
			got:        shared.VerificationSessionName("a-very-long-repository-name-for-backup-verification", "weekly", 1730194200),
			wantPrefix: "a-very-long-repository-name",
			wantSuffix: "fication-weekly-1730194200",
			wantLen:    shared.MaxNameLength,
		},
		"trigger CronJob is trigger-<bc>-<session>": {
			got:  shared.TriggerCronJobName("sample-bc", "daily"),
			want: "trigger-sample-bc-daily",
		},
		"trigger CronJob of exactly 52 characters is unchanged": {
			got:  shared.TriggerCronJobName(strings.Repeat("b", 30), strings.Repeat("s", 13)),
			want: "trigger-" + strings.Repeat("b", 30) + "-" + strings.Repeat("s", 13),
		},
		"trigger CronJob of 53 characters is cut to 52": {
			got:        shared.TriggerCronJobName(strings.Repeat("b", 30), strings.Repeat("s", 14)),
			wantPrefix: "trigger-" + strings.Repeat("b", 13),
			wantSuffix: strings.Repeat("b", 6) + "-" + strings.Repeat("s", 14),
			wantLen:    shared.MaxCronJobNameLength,
		},
		"long trigger CronJob is cut to 52, not 63": {
			got:        shared.TriggerCronJobName(longBC, "frequent-backup"),
			wantPrefix: "trigger-postgres-prod",
			wantSuffix: "onfig-frequent-backup",
			wantLen:    shared.MaxCronJobNameLength,
		},
		"verifier CronJob is verify-<bc>-<repository>": {
			got:  shared.VerifierCronJobName("sample-bc", "gcs-repo"),
			want: "verify-sample-bc-gcs-repo",
		},
		"long verifier CronJob is cut to 52": {
			got:        shared.VerifierCronJobName(longBC, "persistentvolumeclaim-repo"),
			wantPrefix: "verify-postgres-produ",
			wantSuffix: "stentvolumeclaim-repo",
			wantLen:    shared.MaxCronJobNameLength,
		},
		"auto-backup in the workload namespace is <lowercase kind>-<name>": {
			got:  shared.AutoBackupConfigurationName("StatefulSet", "sample-sts", "demo", "demo"),
			want: "statefulset-sample-sts",
		},
		"auto-backup with no config namespace has no prefix": {
			got:  shared.AutoBackupConfigurationName("Deployment", "web", "demo", ""),
			want: "deployment-web",
		},
		"auto-backup in another namespace is prefixed with the workload namespace": {
			got:  shared.AutoBackupConfigurationName("PersistentVolumeClaim", "data", "demo", "backups"),
			want: "demo-persistentvolumeclaim-data",
		},
		"long auto-backup name is cut to 63": {
			got:        shared.AutoBackupConfigurationName("StatefulSet", "a-statefulset-with-a-remarkably-long-name-indeed", "production", "backups"),
			wantPrefix: "production-statefulset-a-st",
			wantSuffix: "emarkably-long-name-indeed",
			wantLen:    shared.MaxNameLength,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.wantLen == 0 {
				if tc.got != tc.want {
					t.Errorf("got %q, want %q", tc.got, tc.want)
				}
				return
			}
			checkCut(t, tc.got, tc.wantPrefix, tc.wantSuffix, tc.wantLen)
			if errs := validation.IsDNS1123Label(tc.got); len(errs) != 0 {
				t.Errorf("%q is not a DNS label: %v", tc.got, errs)
			}
		})
	}
}

func TestOwnerLabels(t *testing.T) {
	longName := strings.Repeat("n", 40) + "-" + strings.Repeat("m", 40)
	tests := map[string]struct {
		kind, name, namespace string
		want                  map[string]string
	}{
		"namespaced invoker": {
			kind: "BackupConfiguration", name: "sample-bc", namespace: "demo",
			want: map[string]string{
				shared.LabelManagedBy:        shared.ManagedByCoffer,
				shared.LabelInvokerKind:      "BackupConfiguration",
				shared.LabelInvokerName:      "sample-bc",
				shared.LabelInvokerNamespace: "demo",
			},
		},
		"cluster-scoped invoker has no namespace label": {
			kind: "Addon", name: "workload-addon", namespace: "",
			want: map[string]string{
				shared.LabelManagedBy:   shared.ManagedByCoffer,
				shared.LabelInvokerKind: "Addon",
				shared.LabelInvokerName: "workload-addon",
			},
		},
		"long invoker name is truncated to a valid label value": {
			kind: "BackupSession", name: longName, namespace: "demo",
			want: map[string]string{
				shared.LabelManagedBy:        shared.ManagedByCoffer,
				shared.LabelInvokerKind:      "BackupSession",
				shared.LabelInvokerName:      shared.TruncateName(longName, shared.MaxNameLength),
				shared.LabelInvokerNamespace: "demo",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := shared.OwnerLabels(tc.kind, tc.name, tc.namespace)
			if len(got) != len(tc.want) {
				t.Errorf("OwnerLabels = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q", k, got[k], v)
				}
			}
			for k, v := range got {
				if errs := validation.IsQualifiedName(k); len(errs) != 0 {
					t.Errorf("label key %q invalid: %v", k, errs)
				}
				if errs := validation.IsValidLabelValue(v); len(errs) != 0 {
					t.Errorf("label %s value %q invalid: %v", k, v, errs)
				}
			}
		})
	}
}
