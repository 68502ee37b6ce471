package blueprints

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// ValidateSchedule checks a cron schedule the way the CronJob controller parses it; time zones
// belong in scheduler.timeZone, not in the schedule.
func ValidateSchedule(schedule string, p *field.Path) *field.Error {
	if strings.Contains(schedule, "TZ=") {
		return field.Invalid(p, schedule, "set the time zone in scheduler.timeZone, not in the schedule")
	}
	if _, err := cron.ParseStandard(schedule); err != nil {
		return field.Invalid(p, schedule, "not a valid cron schedule: "+err.Error())
	}
	return nil
}

// ValidateScheduler checks a CronJob-like scheduler: its schedule and time zone.
func ValidateScheduler(s *shared.SchedulerSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ferr := ValidateSchedule(s.Schedule, p.Child("schedule")); ferr != nil {
		errs = append(errs, ferr)
	}
	if tz := s.TimeZone; tz != nil && !IsTemplate(*tz) {
		if _, err := time.LoadLocation(*tz); err != nil {
			errs = append(errs, field.Invalid(p.Child("timeZone"), *tz, "not a known time zone: "+err.Error()))
		}
	}
	return errs
}

// ValidateConfiguration checks the shape of a configuration's backends and sessions: the rules
// that need no other object. It is the one implementation used for rendered blueprints and for
// BackupConfigurations; base is the path of the object holding backends and sessions. Backends
// may be empty and references unset: the defaulting webhook fills them from the namespace's
// default BackupStorage and RetentionPolicy. A repository that names no backend uses the only
// one. A session without an addon backs up the target's volumes as files; one that names an
// addon must name its tasks.
func ValidateConfiguration(backends []corev1alpha1.BackendReference, sessions []corev1alpha1.Session, base *field.Path) field.ErrorList {
	var errs field.ErrorList
	backendNames := sets.New[string]()
	for i, b := range backends {
		p := base.Child("backends").Index(i)
		if backendNames.Has(b.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), b.Name))
		}
		backendNames.Insert(b.Name)
		if b.Name != "" {
			for _, msg := range validation.IsDNS1123Label(b.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), b.Name, msg))
			}
		}
		if b.StorageRef != nil {
			errs = append(errs, validateRef(b.StorageRef.Name, b.StorageRef.Namespace, p.Child("storageRef"))...)
		}
		if b.RetentionPolicy != nil {
			errs = append(errs, validateRef(b.RetentionPolicy.Name, b.RetentionPolicy.Namespace, p.Child("retentionPolicy"))...)
		}
	}
	if len(sessions) == 0 {
		errs = append(errs, field.Required(base.Child("sessions"), "at least one session is required"))
	}
	sessionNames := sets.New[string]()
	dirs := map[string]string{}
	for i, s := range sessions {
		p := base.Child("sessions").Index(i)
		errs = append(errs, uniqueName(s.Name, sessionNames, validation.IsDNS1123Label, p.Child("name"))...)
		if s.Scheduler == nil {
			errs = append(errs, field.Required(p.Child("scheduler"), "every session needs a schedule"))
		} else {
			errs = append(errs, ValidateScheduler(s.Scheduler, p.Child("scheduler"))...)
		}
		if s.Addon != nil {
			if s.Addon.Name == "" {
				errs = append(errs, field.Required(p.Child("addon", "name"), ""))
			}
			if len(s.Addon.Tasks) == 0 {
				errs = append(errs, field.Required(p.Child("addon", "tasks"), "at least one task is required"))
			}
			for j, t := range s.Addon.Tasks {
				if t.Name == "" {
					errs = append(errs, field.Required(p.Child("addon", "tasks").Index(j).Child("name"), ""))
				}
			}
		}
		errs = append(errs, validateRepositories(s.Repositories, backendNames, len(backends) <= 1, dirs, p.Child("repositories"))...)
	}
	return errs
}

// validateRepositories checks a session's repositories; soleBackend says a repository naming no
// backend has one to use (the default, or the only one).
func validateRepositories(repos []corev1alpha1.RepositoryInfo, backends sets.Set[string], soleBackend bool, dirs map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(repos) == 0 {
		return field.ErrorList{field.Required(p, "at least one repository is required")}
	}
	names := sets.New[string]()
	for i, r := range repos {
		rp := p.Index(i)
		errs = append(errs, uniqueName(r.Name, names, validation.IsDNS1123Subdomain, rp.Child("name"))...)
		if !backends.Has(r.Backend) && !(soleBackend && r.Backend == "") {
			errs = append(errs, field.NotFound(rp.Child("backend"), r.Backend))
		}
		clean, ok := shared.CleanDirectory(r.Directory)
		switch {
		case r.Directory == "":
			errs = append(errs, field.Required(rp.Child("directory"), ""))
		case !ok:
			errs = append(errs, field.Invalid(rp.Child("directory"), r.Directory, "must be a directory below the backend root, without '.', '..' or empty segments"))
		default:
			// Two repositories of one configuration in the same directory of the same backend
			// would write one restic repository from two places.
			key := backendKey(r.Backend, backends, soleBackend) + "\x00" + clean
			if first, taken := dirs[key]; taken {
				errs = append(errs, field.Duplicate(rp.Child("directory"), r.Directory+" (also used by "+first+")"))
			} else {
				dirs[key] = rp.String()
			}
		}
		if r.EncryptionSecret != nil {
			errs = append(errs, validateRef(r.EncryptionSecret.Name, r.EncryptionSecret.Namespace, rp.Child("encryptionSecret"))...)
		}
		if r.BackupVerifier != nil {
			errs = append(errs, validateRef(r.BackupVerifier.Name, r.BackupVerifier.Namespace, rp.Child("backupVerifier"))...)
		}
	}
	return errs
}

// backendKey is the backend a repository writes to: its own, or the only one when it names none.
func backendKey(name string, backends sets.Set[string], soleBackend bool) string {
	if name == "" && soleBackend && backends.Len() == 1 {
		return backends.UnsortedList()[0]
	}
	return name
}

// BackendFor is the backend a repository naming backend writes to: the backend of that name,
// or the only backend when it names none.
func BackendFor(backends []corev1alpha1.BackendReference, name string) (corev1alpha1.BackendReference, bool) {
	for _, b := range backends {
		if b.Name == name {
			return b, true
		}
	}
	if name == "" && len(backends) == 1 {
		return backends[0], true
	}
	return corev1alpha1.BackendReference{}, false
}

// ValidateBackupConfiguration checks a BackupConfiguration as admitted (after defaulting) and as
// its controller runs it: a supported target, at least one backend with its BackupStorage, and
// the shape ValidateConfiguration checks. It needs no other object; the webhook adds the checks
// that do.
func ValidateBackupConfiguration(bc *corev1alpha1.BackupConfiguration) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if bc.Spec.Target == nil {
		errs = append(errs, field.Required(spec.Child("target"), "the workload or volume to back up"))
	} else {
		errs = append(errs, ValidateTarget(*bc.Spec.Target, spec.Child("target"))...)
	}
	if len(bc.Spec.Backends) == 0 {
		errs = append(errs, field.Required(spec.Child("backends"), "at least one backend (the admission webhook adds the namespace's default BackupStorage when none is given)"))
	}
	for i, b := range bc.Spec.Backends {
		if b.StorageRef == nil {
			errs = append(errs, field.Required(spec.Child("backends").Index(i).Child("storageRef"), "the BackupStorage this backend writes to"))
		}
	}
	return append(errs, ValidateConfiguration(bc.Spec.Backends, bc.Spec.Sessions, spec)...)
}

// ValidateTarget checks that a target is of a kind Coffer backs up.
func ValidateTarget(ref shared.TypedObjectReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !shared.IsTargetKind(ref.Kind) {
		errs = append(errs, field.NotSupported(p.Child("kind"), ref.Kind, shared.TargetKinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	return errs
}

// uniqueName checks that a list entry's name is set, not taken by an earlier entry (seen) and
// valid as an object name, and records it in seen.
func uniqueName(name string, seen sets.Set[string], valid func(string) []string, p *field.Path) field.ErrorList {
	defer seen.Insert(name)
	switch {
	case name == "":
		return field.ErrorList{field.Required(p, "")}
	case seen.Has(name):
		return field.ErrorList{field.Duplicate(p, name)}
	}
	var errs field.ErrorList
	for _, msg := range valid(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

func validateRef(name, namespace string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		if name != "" {
			errs = append(errs, field.Invalid(p.Child("name"), name, msg))
		}
	}
	if namespace != "" {
		for _, msg := range validation.IsDNS1123Label(namespace) {
			errs = append(errs, field.Invalid(p.Child("namespace"), namespace, msg))
		}
	}
	return errs
}

// sessionFilter returns the sessions named in the session-names annotation, in the blueprint's
// order, or all sessions when the annotation is absent.
func sessionFilter(all []corev1alpha1.Session, annotation string, present bool, p *field.Path) ([]corev1alpha1.Session, field.ErrorList) {
	if !present {
		return all, nil
	}
	known := make([]string, len(all))
	for i, s := range all {
		known[i] = s.Name
	}
	wanted := sets.New[string]()
	var errs field.ErrorList
	for _, name := range strings.Split(annotation, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !sets.New(known...).Has(name) {
			errs = append(errs, field.NotSupported(p, name, known))
			continue
		}
		wanted.Insert(name)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if wanted.Len() == 0 {
		return nil, field.ErrorList{field.Invalid(p, annotation, fmt.Sprintf("names no session; the blueprint has: %s", strings.Join(known, ", ")))}
	}
	var out []corev1alpha1.Session
	for _, s := range all {
		if wanted.Has(s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}
