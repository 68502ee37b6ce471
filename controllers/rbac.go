package controllers

// Permissions of the manager as a whole; each controller adds its own markers next to its
// reconciler.
//
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages;repositories;snapshots;retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupconfigurations;backupsessions;restoresessions;backupblueprints;backupverifier;backupverificationsession;hooktemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups=addons.coffer.dev,resources=addons;functions,verbs=get;list;watch
