package backupsession

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// Session metrics, served on the manager's metrics endpoint. Labels identify the configuration
// and session, never the BackupSession (whose name is unique per run and would grow the series
// without bound).
var (
	sessionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coffer_backup_sessions_total",
		Help: "Finished backup sessions by phase.",
	}, []string{"namespace", "invoker", "session", "phase"})
	sessionDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "coffer_backup_session_duration_seconds",
		Help:    "Time from a backup session's creation to its end.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 16),
	}, []string{"namespace", "invoker", "session", "phase"})
	sessionSize = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "coffer_backup_session_size_bytes",
		Help: "Size of the data the last successful session of a configuration backed up.",
	}, []string{"namespace", "invoker", "session"})
	lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "coffer_backup_last_success_timestamp_seconds",
		Help: "Unix time of the last successful session of a configuration.",
	}, []string{"namespace", "invoker", "session"})
)

var registerOnce sync.Once

// registerMetrics adds the session metrics to controller-runtime's registry (the manager's
// /metrics endpoint); the registry is process-global, so this happens once.
func registerMetrics() {
	registerOnce.Do(func() { metrics.Registry.MustRegister(sessionsTotal, sessionDuration, sessionSize, lastSuccess) })
}

func recordSession(bs *corev1alpha1.BackupSession, phase corev1alpha1.BackupSessionPhase, snaps []storagev1alpha1.Snapshot, now time.Time) {
	l := []string{bs.Namespace, bs.Spec.Invoker.Name, bs.Spec.Session}
	sessionsTotal.WithLabelValues(append(l, string(phase))...).Inc()
	sessionDuration.WithLabelValues(append(l, string(phase))...).Observe(now.Sub(bs.CreationTimestamp.Time).Seconds())
	if phase != corev1alpha1.BackupSessionSucceeded {
		return
	}
	var size int64
	for _, s := range snaps {
		if s.Status.SizeBytes != nil {
			size += *s.Status.SizeBytes
		}
	}
	sessionSize.WithLabelValues(l...).Set(float64(size))
	lastSuccess.WithLabelValues(l...).Set(float64(now.Unix()))
}
