package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLatestSnapshot(t *testing.T) {
	at := func(h int) *metav1.Time { return new(metav1.NewTime(time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC))) }
	snap := func(name, repo string, phase SnapshotPhase, comp ComponentPhase, t *metav1.Time) Snapshot {
		s := Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: *at(0)},
			Spec: SnapshotSpec{Repository: repo}, Status: SnapshotStatus{Phase: phase, SnapshotTime: t}}
		if comp != "" {
			s.Status.Components = map[string]Component{"data": {Phase: comp}}
		}
		return s
	}
	const ok, failed = ComponentSucceeded, ComponentFailed
	tests := map[string]struct {
		items []Snapshot
		want  string
	}{
		"newest succeeded phase": {items: []Snapshot{
			snap("a", "app", SnapshotSucceeded, ok, at(1)),
			snap("b", "app", SnapshotSucceeded, ok, at(3)),
			snap("c", "app", SnapshotSucceeded, ok, at(2)),
		}, want: "b"},
		"skips failed, running and other repositories": {items: []Snapshot{
			snap("a", "app", SnapshotSucceeded, ok, at(1)),
			snap("b", "app", SnapshotFailed, failed, at(2)),
			snap("c", "app", SnapshotRunning, ok, at(3)),
			snap("d", "other", SnapshotSucceeded, ok, at(4)),
		}, want: "a"},
		"phases decide once any snapshot has one": {items: []Snapshot{
			snap("a", "app", SnapshotSucceeded, ok, at(1)),
			snap("b", "app", "", ok, at(2)),
		}, want: "a"},
		"no phases: the component decides": {items: []Snapshot{
			snap("a", "app", "", ok, at(1)),
			snap("b", "app", "", ok, at(2)),
			snap("c", "app", "", failed, at(3)),
			snap("d", "app", "", "", at(4)),
		}, want: "b"},
		"creation time without snapshotTime, then name": {items: []Snapshot{
			snap("a", "app", "", ok, nil),
			snap("b", "app", "", ok, nil),
		}, want: "b"},
		"none":  {items: []Snapshot{snap("a", "app", SnapshotFailed, failed, at(1))}},
		"empty": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := LatestSnapshot(tc.items, "app", "data")
			switch {
			case got == nil && tc.want != "":
				t.Errorf("got none, want %s", tc.want)
			case got != nil && got.Name != tc.want:
				t.Errorf("got %s, want %q", got.Name, tc.want)
			}
		})
	}
}
