// Package webhookcert gives the admission webhooks their serving certificate without
// cert-manager: a CA and a serving certificate kept in one Secret (so every replica serves the
// same one), written to the webhook server's certificate directory (controller-runtime's
// certificate watcher reloads it), rotated well before expiry, and the CA injected into the
// webhook configurations' caBundle.
package webhookcert
