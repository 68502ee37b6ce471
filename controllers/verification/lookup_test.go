package verification

import (
	"strings"
	"testing"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

func TestRepositoryOf(t *testing.T) {
	bc := &corev1alpha1.BackupConfiguration{Spec: corev1alpha1.BackupConfigurationSpec{Sessions: []corev1alpha1.Session{
		{SessionConfig: corev1alpha1.SessionConfig{Name: "daily"}, Repositories: []corev1alpha1.RepositoryInfo{
			{Name: "verified", BackupVerifier: &shared.ObjectReference{Name: "v"}}, {Name: "plain"}}},
	}}}
	bc.Namespace, bc.Name = "demo", "app"
	cases := map[string]struct {
		session, repository, err string
	}{
		"found":                    {session: "daily", repository: "verified"},
		"found in any session":     {repository: "verified"},
		"no verifier":              {session: "daily", repository: "plain", err: `repository "plain" of BackupConfiguration demo/app names no backupVerifier`},
		"no such repository":       {session: "daily", repository: "other", err: `has no repository "other" in session "daily"`},
		"not in the named session": {session: "weekly", repository: "verified", err: `has no repository "verified" in session "weekly"`},
	}
	for name, tc := range cases {
		ri, err := RepositoryOf(bc, tc.session, tc.repository)
		switch {
		case tc.err == "" && (err != nil || ri == nil || ri.Name != tc.repository):
			t.Errorf("%s: %v, %v", name, ri, err)
		case tc.err != "" && (!IsConfigError(err) || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want a ConfigError saying %q", name, err, tc.err)
		}
	}
}
