package executor

import (
	"context"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Failed is the Job's Failed condition, or nil while it runs or after it succeeded. Backup and
// restore controllers read an executor's end through this one function.
func Failed(job *batchv1.Job) *batchv1.JobCondition {
	for i, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

// Succeeded reports whether the Job completed.
func Succeeded(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// PodMessage is what a Job's executor pod said last (the last line of its termination message,
// which is the end of its log when it failed), as "; last output: ..." to append to a reason,
// or "" when it said nothing.
func PodMessage(ctx context.Context, c client.Reader, job *batchv1.Job) string {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": job.Name}); err != nil {
		return ""
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.Message != "" {
				msg := strings.TrimRight(t.Message, "\n ")
				return "; last output: " + msg[strings.LastIndexByte(msg, '\n')+1:]
			}
		}
	}
	return ""
}
