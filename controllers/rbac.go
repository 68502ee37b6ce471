package controllers

// Permissions of the manager as a whole; each controller adds its own markers next to its
// reconciler. The leader-election Lease is granted by a Role in the manager's namespace
// (config/rbac/leader_election_role.yaml), not cluster-wide.
//
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages;repositories;snapshots;retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupconfigurations;backupsessions;restoresessions;backupblueprints;backupverifier;backupverificationsession;hooktemplates;appbindings,verbs=get;list;watch
// +kubebuilder:rbac:groups=addons.coffer.dev,resources=addons;functions,verbs=get;list;watch
