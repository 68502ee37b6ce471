package blueprints

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

func validSession(name string, repos ...corev1alpha1.RepositoryInfo) corev1alpha1.Session {
	if len(repos) == 0 {
		repos = []corev1alpha1.RepositoryInfo{{Name: name + "-repo", Directory: name}}
	}
	return corev1alpha1.Session{
		SessionConfig: corev1alpha1.SessionConfig{Name: name, Scheduler: &shared.SchedulerSpec{Schedule: "@daily"}},
		Addon:         &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
		Repositories:  repos,
	}
}

func TestValidateConfiguration(t *testing.T) {
	ref := func(name string) *shared.ObjectReference { return &shared.ObjectReference{Name: name} }
	tests := map[string]struct {
		backends []corev1alpha1.BackendReference
		sessions []corev1alpha1.Session
		want     []string // "path: substring", in order
	}{
		"valid with the default backend": {sessions: []corev1alpha1.Session{validSession("daily")}},
		"valid with named backends": {
			backends: []corev1alpha1.BackendReference{{Name: "s3", StorageRef: ref("s3"), RetentionPolicy: ref("keep")}},
			sessions: []corev1alpha1.Session{validSession("daily", corev1alpha1.RepositoryInfo{Name: "r", Backend: "s3", Directory: "a/b"})},
		},
		"no sessions": {want: []string{"spec.sessions: Required value"}},
		"duplicate names": {
			backends: []corev1alpha1.BackendReference{{Name: "a"}, {Name: "a"}},
			sessions: []corev1alpha1.Session{
				validSession("daily", corev1alpha1.RepositoryInfo{Name: "r", Backend: "a", Directory: "x"}, corev1alpha1.RepositoryInfo{Name: "r", Backend: "a", Directory: "y"}),
				validSession("daily", corev1alpha1.RepositoryInfo{Name: "q", Backend: "a", Directory: "z"}),
			},
			want: []string{
				`spec.backends[1].name: Duplicate value: "a"`,
				`spec.sessions[0].repositories[1].name: Duplicate value: "r"`,
				`spec.sessions[1].name: Duplicate value: "daily"`,
			},
		},
		"a session without schedule (an addon is optional)": {
			sessions: []corev1alpha1.Session{{SessionConfig: corev1alpha1.SessionConfig{Name: "s"}, Repositories: []corev1alpha1.RepositoryInfo{{Name: "r", Directory: "d"}}}},
			want:     []string{"spec.sessions[0].scheduler: Required value"},
		},
		"schedules": {
			sessions: func() []corev1alpha1.Session {
				a, b := validSession("a"), validSession("b")
				a.Scheduler.Schedule = "TZ=UTC 0 1 * * *"
				b.Scheduler.Schedule = "0 25 * * *"
				return []corev1alpha1.Session{a, b}
			}(),
			want: []string{"spec.sessions[0].scheduler.schedule: Invalid value: \"TZ=UTC 0 1 * * *\": set the time zone in scheduler.timeZone", "spec.sessions[1].scheduler.schedule: Invalid value: \"0 25 * * *\": not a valid cron schedule"},
		},
		"repository rules": {
			backends: []corev1alpha1.BackendReference{{Name: "s3"}, {Name: "other"}},
			sessions: []corev1alpha1.Session{validSession("s",
				corev1alpha1.RepositoryInfo{Name: "a", Backend: "gcs", Directory: "d"},
				corev1alpha1.RepositoryInfo{Name: "b", Backend: "", Directory: "d"},
				corev1alpha1.RepositoryInfo{Name: "c", Backend: "s3", Directory: "/kubestash/style"},
				corev1alpha1.RepositoryInfo{Name: "d", Backend: "s3", Directory: "a/../b"},
				corev1alpha1.RepositoryInfo{Name: "E", Backend: "s3", Directory: "e", EncryptionSecret: &shared.ObjectReference{}},
				corev1alpha1.RepositoryInfo{Name: "f", Backend: "s3", Directory: "."},
				corev1alpha1.RepositoryInfo{Name: "g", Backend: "s3", Directory: "kubestash/style/"},
			)},
			want: []string{
				`spec.sessions[0].repositories[0].backend: Not found: "gcs"`,
				`spec.sessions[0].repositories[1].backend: Not found: ""`,
				`spec.sessions[0].repositories[3].directory: Invalid value: "a/../b": must be a directory below the backend root`,
				`spec.sessions[0].repositories[4].name: Invalid value: "E"`,
				`spec.sessions[0].repositories[4].encryptionSecret.name: Required value`,
				`spec.sessions[0].repositories[5].directory: Invalid value: ".": must be a directory below the backend root`,
				`spec.sessions[0].repositories[6].directory: Duplicate value: "kubestash/style/ (also used by spec.sessions[0].repositories[2])"`,
			},
		},
		"a repository naming no backend uses the only one, directory included": {
			backends: []corev1alpha1.BackendReference{{Name: "s3"}},
			sessions: []corev1alpha1.Session{validSession("a", corev1alpha1.RepositoryInfo{Name: "r1", Backend: "s3", Directory: "same"},
				corev1alpha1.RepositoryInfo{Name: "r2", Directory: "same"})},
			want: []string{`spec.sessions[0].repositories[1].directory: Duplicate value: "same (also used by spec.sessions[0].repositories[0])"`},
		},
		"a directory is unique across sessions of a backend": {
			sessions: []corev1alpha1.Session{validSession("a", corev1alpha1.RepositoryInfo{Name: "r1", Directory: "same"}),
				validSession("b", corev1alpha1.RepositoryInfo{Name: "r2", Directory: "/same/"})},
			want: []string{`spec.sessions[1].repositories[0].directory: Duplicate value: "/same/ (also used by spec.sessions[0].repositories[0])"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := ValidateConfiguration(tc.backends, tc.sessions, field.NewPath("spec"))
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tc.want), errs)
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestValidateBackupConfiguration(t *testing.T) {
	config := func(mut func(*corev1alpha1.BackupConfiguration)) *corev1alpha1.BackupConfiguration {
		bc := &corev1alpha1.BackupConfiguration{Spec: corev1alpha1.BackupConfigurationSpec{
			Target:   &shared.TypedObjectReference{Kind: "Deployment", Name: "app"},
			Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
			Sessions: []corev1alpha1.Session{{
				SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "0 2 * * *"}},
				Repositories:  []corev1alpha1.RepositoryInfo{{Name: "app", Backend: "local", Directory: "app"}},
			}},
		}}
		if mut != nil {
			mut(bc)
		}
		return bc
	}
	cases := map[string]struct {
		mut  func(*corev1alpha1.BackupConfiguration)
		want []string
	}{
		"valid": {},
		"a repository naming no backend uses the only one": {
			mut: func(bc *corev1alpha1.BackupConfiguration) { bc.Spec.Sessions[0].Repositories[0].Backend = "" },
		},
		"unsupported target": {
			mut:  func(bc *corev1alpha1.BackupConfiguration) { bc.Spec.Target.Kind = "CronJob" },
			want: []string{"spec.target.kind"},
		},
		"no target": {
			mut:  func(bc *corev1alpha1.BackupConfiguration) { bc.Spec.Target = nil },
			want: []string{"spec.target"},
		},
		"no backend left after defaulting": {
			mut: func(bc *corev1alpha1.BackupConfiguration) {
				bc.Spec.Backends = nil
				bc.Spec.Sessions[0].Repositories[0].Backend = ""
			},
			want: []string{"spec.backends"},
		},
		"a backend without storage": {
			mut:  func(bc *corev1alpha1.BackupConfiguration) { bc.Spec.Backends[0].StorageRef = nil },
			want: []string{"spec.backends[0].storageRef"},
		},
		"bad schedule and unknown backend, both named": {
			mut: func(bc *corev1alpha1.BackupConfiguration) {
				bc.Spec.Sessions[0].Scheduler.Schedule = "every day"
				bc.Spec.Sessions[0].Repositories[0].Backend = "s3"
			},
			want: []string{"spec.sessions[0].scheduler.schedule", "spec.sessions[0].repositories[0].backend"},
		},
		"bad time zone": {
			mut: func(bc *corev1alpha1.BackupConfiguration) {
				tz := "Mars/Olympus"
				bc.Spec.Sessions[0].Scheduler.TimeZone = &tz
			},
			want: []string{"spec.sessions[0].scheduler.timeZone"},
		},
		"an addon without tasks": {
			mut: func(bc *corev1alpha1.BackupConfiguration) {
				bc.Spec.Sessions[0].Addon = &corev1alpha1.AddonInfo{Name: "postgres-addon"}
			},
			want: []string{"spec.sessions[0].addon.tasks"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			errs := ValidateBackupConfiguration(config(tc.mut))
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want one for each of %v", errs, tc.want)
			}
			for i, w := range tc.want {
				if errs[i].Field != w {
					t.Errorf("error %d on %s, want %s", i, errs[i].Field, w)
				}
			}
		})
	}
}
