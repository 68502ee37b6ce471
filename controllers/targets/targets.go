package targets

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// MountRoot is where a Job mounts the target's volumes, one directory per volume. A component's
// backup is this one directory, so a restore into the same layout puts every file back where
// the workload reads it.
const MountRoot = "/coffer/volumes"

// Kinds Coffer backs up as files.
const (
	KindPVC         = shared.KindPersistentVolumeClaim
	KindDeployment  = shared.KindDeployment
	KindStatefulSet = shared.KindStatefulSet
	KindDaemonSet   = shared.KindDaemonSet
)

// Component is one unit of backup: the volumes of one pod (a StatefulSet ordinal, a DaemonSet's
// node) or of the whole target.
type Component struct {
	// Name is the key of the component in Snapshot.status.components.
	Name string
	// NodeName pins the Job to a node (DaemonSets: hostPath volumes exist only there).
	NodeName string
	Volumes  []corev1.Volume
	Mounts   []corev1.VolumeMount
	// Database is the AppBinding whose dump this component is; nil for a component of files.
	Database *client.ObjectKey
}

// DumpComponent names the one component of a database target.
const DumpComponent = "dump"

// Path is the directory a Job backs up and restores.
func (c Component) Path() string { return MountRoot }

// NotFoundError says the target does not exist.
type NotFoundError struct{ Ref shared.TypedObjectReference }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %s/%s not found", e.Ref.Kind, e.Ref.Namespace, e.Ref.Name)
}

// Supported reports whether Coffer backs up targets of this kind.
func Supported(kind string) bool { return shared.IsTargetKind(kind) }

// Resolve returns the components of the target. ref.Namespace defaults to namespace. A missing
// target is a *NotFoundError; a target with nothing to back up is an error that says why.
func Resolve(ctx context.Context, c client.Reader, namespace string, ref shared.TypedObjectReference) ([]Component, error) {
	if ref.Namespace == "" {
		ref.Namespace = namespace
	}
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	var (
		comps []Component
		err   error
	)
	switch ref.Kind {
	case KindPVC:
		var pvc corev1.PersistentVolumeClaim
		if err = c.Get(ctx, key, &pvc); err == nil {
			comps = []Component{forPVC(&pvc)}
		}
	case KindDeployment:
		var d appsv1.Deployment
		if err = c.Get(ctx, key, &d); err == nil {
			comps, err = forPodTemplate("data", "", &d.Spec.Template.Spec, nil)
		}
	case KindStatefulSet:
		var s appsv1.StatefulSet
		if err = c.Get(ctx, key, &s); err == nil {
			comps, err = forStatefulSet(&s)
		}
	case KindDaemonSet:
		var d appsv1.DaemonSet
		if err = c.Get(ctx, key, &d); err == nil {
			comps, err = forDaemonSet(ctx, c, &d)
		}
	case shared.KindAppBinding:
		var b corev1alpha1.AppBinding
		if err = c.Get(ctx, key, &b); err == nil {
			comps = []Component{{Name: DumpComponent, Database: &key}}
		}
	default:
		return nil, fmt.Errorf("target kind %q is not supported (use %s)", ref.Kind, strings.Join(shared.TargetKinds, ", "))
	}
	if apierrors.IsNotFound(err) {
		return nil, &NotFoundError{Ref: ref}
	}
	if err != nil {
		return nil, err
	}
	return comps, nil
}

func forPVC(pvc *corev1.PersistentVolumeClaim) Component {
	vol := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.Name}}}
	return Component{Name: "data", Volumes: []corev1.Volume{vol}, Mounts: []corev1.VolumeMount{mount(vol.Name)}}
}

func mount(volume string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: volume, MountPath: path.Join(MountRoot, volume)}
}

// persistent reports whether a pod volume holds data worth backing up from another pod:
// emptyDir, configMap, secret and projected volumes are either ephemeral or come from the API.
func persistent(v corev1.Volume) bool {
	return v.PersistentVolumeClaim != nil || v.HostPath != nil || v.NFS != nil || v.CSI != nil
}

// forPodTemplate mounts the template's persistent volumes, renaming claims through claimFor
// (StatefulSet ordinals) when the volume comes from a claim template.
func forPodTemplate(name, node string, spec *corev1.PodSpec, extra []corev1.Volume) ([]Component, error) {
	comp := Component{Name: name, NodeName: node}
	for _, v := range append(append([]corev1.Volume(nil), spec.Volumes...), extra...) {
		if !persistent(v) {
			continue
		}
		if v.PersistentVolumeClaim != nil {
			pvc := *v.PersistentVolumeClaim
			pvc.ReadOnly = false
			v.PersistentVolumeClaim = &pvc
		}
		comp.Volumes = append(comp.Volumes, v)
		comp.Mounts = append(comp.Mounts, mount(v.Name))
	}
	if len(comp.Volumes) == 0 {
		return nil, fmt.Errorf("the pod template has no persistent volume (persistentVolumeClaim, hostPath, nfs or csi) to back up")
	}
	return []Component{comp}, nil
}

func forStatefulSet(s *appsv1.StatefulSet) ([]Component, error) {
	replicas := int32(1)
	if s.Spec.Replicas != nil {
		replicas = *s.Spec.Replicas
	}
	start := int32(0)
	if s.Spec.Ordinals != nil {
		start = s.Spec.Ordinals.Start
	}
	var out []Component
	for i := start; i < start+replicas; i++ {
		var claims []corev1.Volume
		for _, t := range s.Spec.VolumeClaimTemplates {
			claims = append(claims, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: t.Name + "-" + s.Name + "-" + strconv.Itoa(int(i))}}})
		}
		comps, err := forPodTemplate(OrdinalComponent(i), "", &s.Spec.Template.Spec, claims)
		if err != nil {
			return nil, err
		}
		out = append(out, comps...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("StatefulSet %s/%s has no replicas to back up", s.Namespace, s.Name)
	}
	return out, nil
}

// OrdinalComponent names the component of a StatefulSet pod.
func OrdinalComponent(ordinal int32) string { return "pod-" + strconv.Itoa(int(ordinal)) }

func forDaemonSet(ctx context.Context, c client.Reader, d *appsv1.DaemonSet) ([]Component, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("DaemonSet %s/%s: %w", d.Namespace, d.Name, err)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(d.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	nodes := map[string]bool{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && metav1.IsControlledBy(&p, d) {
			nodes[p.Spec.NodeName] = true
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("DaemonSet %s/%s has no scheduled pods yet: its components are its nodes", d.Namespace, d.Name)
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Component
	for _, n := range names {
		comps, err := forPodTemplate(n, n, &d.Spec.Template.Spec, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, comps...)
	}
	return out, nil
}
