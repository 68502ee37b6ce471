package targets

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cofferhq/coffer/api/shared"
)

const ns = "demo"

func claimVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func podSpec(vols ...corev1.Volume) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Volumes: vols}}
}

// volumeClaims maps each component to its volumes as "volume=claim" or "volume=host:path".
func volumeClaims(comps []Component) map[string][]string {
	out := map[string][]string{}
	for _, c := range comps {
		for i, v := range c.Volumes {
			var src string
			switch {
			case v.PersistentVolumeClaim != nil:
				src = v.PersistentVolumeClaim.ClaimName
				if v.PersistentVolumeClaim.ReadOnly {
					src += ",ro"
				}
			case v.HostPath != nil:
				src = "host:" + v.HostPath.Path
			}
			if c.Mounts[i].Name != v.Name || c.Mounts[i].MountPath != MountRoot+"/"+v.Name {
				src += " (mounted wrong: " + c.Mounts[i].MountPath + ")"
			}
			out[c.Name+"@"+c.NodeName] = append(out[c.Name+"@"+c.NodeName], v.Name+"="+src)
		}
	}
	return out
}

func TestResolve(t *testing.T) {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent", UID: "ds-uid"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: podSpec(corev1.Volume{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log/agent"}}})}}
	agentPod := func(name, node string, owned bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "agent"}},
			Spec: corev1.PodSpec{NodeName: node}}
		if owned {
			p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))}
		}
		return p
	}
	roClaim := claimVolume("data", "app-data")
	roClaim.PersistentVolumeClaim.ReadOnly = true
	objects := []client.Object{
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
			Spec: appsv1.DeploymentSpec{Template: podSpec(roClaim,
				corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stateless"},
			Spec: appsv1.DeploymentSpec{Template: podSpec(corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}})}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), Ordinals: &appsv1.StatefulSetOrdinals{Start: 3},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "pgdata"}}},
				Template:             podSpec(claimVolume("shared", "db-shared"))}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scaled-down"},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](0),
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "pgdata"}}}}},
		ds,
		agentPod("agent-b", "node-b", true), agentPod("agent-a", "node-a", true), agentPod("agent-a2", "node-a", true),
		agentPod("impostor", "node-c", false), agentPod("agent-pending", "", true),
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unscheduled"},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "none"}}, Template: ds.Spec.Template}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objects...).Build()

	for _, tc := range []struct {
		kind, name string
		want       map[string][]string
		wantErr    string
	}{
		{kind: KindPVC, name: "data", want: map[string][]string{"data@": {"data=data"}}},
		// The executor writes on restore, so a read-only claim is mounted read-write; emptyDir is skipped.
		{kind: KindDeployment, name: "app", want: map[string][]string{"data@": {"data=app-data"}}},
		{kind: KindDeployment, name: "stateless", wantErr: "no persistent volume"},
		// One component per ordinal, from Ordinals.Start; claim templates become that pod's claims.
		{kind: KindStatefulSet, name: "db", want: map[string][]string{
			"pod-3@": {"shared=db-shared", "pgdata=pgdata-db-3"},
			"pod-4@": {"shared=db-shared", "pgdata=pgdata-db-4"},
		}},
		{kind: KindStatefulSet, name: "scaled-down", wantErr: "no replicas"},
		// One component per node running a pod the DaemonSet controls, pinned to that node.
		{kind: KindDaemonSet, name: "agent", want: map[string][]string{
			"node-a@node-a": {"logs=host:/var/log/agent"},
			"node-b@node-b": {"logs=host:/var/log/agent"},
		}},
		{kind: KindDaemonSet, name: "unscheduled", wantErr: "no scheduled pods"},
		{kind: "CronJob", name: "x", wantErr: `target kind "CronJob" is not supported`},
		{kind: KindPVC, name: "missing", wantErr: "PersistentVolumeClaim demo/missing not found"},
	} {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			comps, err := Resolve(context.Background(), c, ns, shared.TypedObjectReference{Kind: tc.kind, Name: tc.name})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := volumeClaims(comps); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("components %v, want %v", got, tc.want)
			}
		})
	}

	_, err := Resolve(context.Background(), c, ns, shared.TypedObjectReference{Kind: KindDeployment, Name: "gone"})
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Ref.Namespace != ns {
		t.Fatalf("a missing target gives %v, want a *NotFoundError with the defaulted namespace", err)
	}
}
