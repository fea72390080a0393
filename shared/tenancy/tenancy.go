// Package tenancy is what every domain package shares about whose data a
// call touches: the Scope (the tenant, the integration, and who acts).
// It depends on nothing, so any package can take a Scope without taking
// the package that first needed one.
package tenancy

// Scope is the tenant and integration every call works in.
type Scope struct {
	TenantID      string
	IntegrationID string
	// Actor is who acts (an API key id, or a function name), for the audit.
	Actor string
}
