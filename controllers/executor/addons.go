package executor

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	addonsv1alpha1 "github.com/cofferhq/coffer/api/addons/v1alpha1"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
)

// TaskImage is the image a task's Job runs: the image of the Function of the addon's first task
// that the Addon declares (a restore task when restore is set). The Job runs `coffer` in it, so
// a database addon's image has Coffer beside the database's client programs (pg_dumpall,
// mariadb-dump).
//
// An addon that names no Function image leaves cfg.Image, Coffer's own, which backs up files
// and the databases it speaks to without client programs (Redis, ZooKeeper). So that KubeStash
// manifests naming addons this cluster does not have (workload-addon) still work, a missing
// Addon, task or Function is not an error: the image stays Coffer's and warning says why.
func TaskImage(ctx context.Context, c client.Reader, cfg Config, addon *corev1alpha1.AddonInfo, restore bool) (image, warning string, err error) {
	if addon == nil || addon.Name == "" {
		return cfg.Image, "", nil
	}
	var a addonsv1alpha1.Addon
	if err := c.Get(ctx, client.ObjectKey{Name: addon.Name}, &a); err != nil {
		if apierrors.IsNotFound(err) {
			return cfg.Image, fmt.Sprintf("Addon %s not found: the Job runs Coffer's own image", addon.Name), nil
		}
		return "", "", err
	}
	declared := a.Spec.BackupTasks
	if restore {
		declared = a.Spec.RestoreTasks
	}
	for _, ref := range addon.Tasks {
		for _, t := range declared {
			if t.Name != ref.Name {
				continue
			}
			image, warning, err := FunctionImage(ctx, c, cfg, t.Function)
			if warning != "" {
				warning = fmt.Sprintf("task %s of Addon %s: %s", t.Name, a.Name, warning)
			}
			return image, warning, err
		}
	}
	kind := "backup"
	if restore {
		kind = "restore"
	}
	return cfg.Image, fmt.Sprintf("Addon %s declares none of the %s tasks the session names: the Job runs Coffer's own image", a.Name, kind), nil
}

// FunctionImage is the image of a Function, or Coffer's own with a warning when it does not
// exist (see TaskImage).
func FunctionImage(ctx context.Context, c client.Reader, cfg Config, name string) (image, warning string, err error) {
	var fn addonsv1alpha1.Function
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &fn); err != nil {
		if apierrors.IsNotFound(err) {
			return cfg.Image, fmt.Sprintf("Function %s not found: the Job runs Coffer's own image", name), nil
		}
		return "", "", err
	}
	return fn.Spec.Image, "", nil
}
