package verification

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// ConfigError is a verification that cannot run as configured: a repository or verifier that is
// not there. Retrying does not help; the message says what to fix.
type ConfigError struct{ Message string }

func (e *ConfigError) Error() string { return e.Message }

// IsConfigError reports whether err is a ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// RepositoryOf finds repository in session of the configuration (in any session when session
// is empty) and checks that it names a backupVerifier.
func RepositoryOf(bc *corev1alpha1.BackupConfiguration, session, repository string) (*corev1alpha1.RepositoryInfo, error) {
	for _, s := range bc.Spec.Sessions {
		if session != "" && s.Name != session {
			continue
		}
		for i := range s.Repositories {
			if ri := &s.Repositories[i]; ri.Name == repository {
				if ri.BackupVerifier == nil {
					return nil, &ConfigError{fmt.Sprintf("repository %q of BackupConfiguration %s/%s names no backupVerifier", repository, bc.Namespace, bc.Name)}
				}
				return ri, nil
			}
		}
	}
	return nil, &ConfigError{fmt.Sprintf("BackupConfiguration %s/%s has no repository %q in session %q", bc.Namespace, bc.Name, repository, session)}
}

// VerifierOf reads the BackupVerifier a repository of bc names; its namespace defaults to the
// configuration's. A missing verifier is a ConfigError.
func VerifierOf(ctx context.Context, c client.Reader, bc *corev1alpha1.BackupConfiguration, ri *corev1alpha1.RepositoryInfo) (*corev1alpha1.BackupVerifier, error) {
	key := client.ObjectKey{Namespace: shared.NamespaceOr(ri.BackupVerifier.Namespace, bc.Namespace), Name: ri.BackupVerifier.Name}
	var v corev1alpha1.BackupVerifier
	err := c.Get(ctx, key, &v)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &ConfigError{fmt.Sprintf("BackupVerifier %s not found", key)}
	case err != nil:
		return nil, fmt.Errorf("reading BackupVerifier %s: %w", key, err)
	}
	return &v, nil
}

// Target is the scratch target a verifier restores into: the target of the RestoreSession a
// session creates, and what its verifier Job queries or mounts.
type Target struct {
	Kind string
	Key  client.ObjectKey
}

// TargetOf is the verifier's spec.restoreOption.target, its namespace defaulting to that of the
// session (where the RestoreSession is created); nil when the verifier names none.
func TargetOf(v *corev1alpha1.BackupVerifier, namespace string) *Target {
	if v.Spec.RestoreOption == nil || v.Spec.RestoreOption.Target == nil {
		return nil
	}
	t := v.Spec.RestoreOption.Target
	return &Target{Kind: t.Kind, Key: client.ObjectKey{Namespace: shared.NamespaceOr(t.Namespace, namespace), Name: t.Name}}
}
