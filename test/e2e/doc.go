// Package e2e holds the end-to-end suites: Coffer deployed from config/ into the local cluster
// (test/localcluster: a real kube-apiserver, controller-manager, scheduler, kube-proxy and
// kubelet running Coffer's own image), driven only through the API as a user would. Each test
// works in a namespace of its own, created and deleted by the test, with its own PersistentVolumes
// on the host and its own BackupStorages.
package e2e
