// Package vendorspec describes a vendor as one value, its Spec: what a
// connection to it stores (credential fields, typed settings), what it can
// do (capabilities), and how its client is opened. Each vendor package
// (shared/vendors/<name>) exports its Spec; providers and the connection
// service are built from the list of them (a Catalog), so adding a vendor
// is one folder and one line in that list.
//
// The package is neutral: it imports the normalized vendor model (rmm,
// psa) and the error kinds, never a vendor, AWS or Lambda package, so the
// domain may depend on it for its capability checks.
package vendorspec

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Kind is the kind of vendor: an RMM or a PSA.
type Kind string

// The kinds.
const (
	KindRMM Kind = "rmm"
	KindPSA Kind = "psa"
)

// Spec is one vendor.
type Spec struct {
	// Name is the provider name connections use (lower case, e.g.
	// "connectwise").
	Name string
	Kind Kind
	// DisplayName is the vendor's name for people ("ConnectWise PSA").
	DisplayName string
	// Credentials are the fields of a connection's credentials; any
	// other field is refused.
	Credentials []CredentialField
	// Settings are the connection settings the vendor reads, typed and
	// validated on "Test & save"; other settings are kept as given.
	Settings []Setting
	// Capabilities are what the vendor's client can do beyond the
	// interface every client implements, each possibly only when a
	// setting is set.
	Capabilities []Offer
	// OpenRMM (Kind rmm) or OpenPSA (Kind psa) opens a client. Both nil:
	// the vendor is planned, its connections are refused as not supported
	// yet.
	OpenRMM func(Params) (rmm.Client, error)
	OpenPSA func(Params) (psa.Client, error)
	// Budget is the vendor's request budget defaults (the zero value:
	// DefaultRequestsPerMinute, unlimited concurrency). Every connection
	// also has the BudgetSettings to override them.
	Budget Budget
}

// Params are what a client is opened with.
type Params struct {
	// BaseURL is the connection's base URL, checked and normalized.
	BaseURL string
	// Credentials are the connection's credentials.
	Credentials map[string]string
	// Settings are the connection's settings, typed, defaults applied.
	Settings Settings
	// HTTPClient sends every request of the client, token requests
	// included (providers gives the netguard-guarded client).
	HTTPClient *http.Client
	// Budget opens the connection's request budgets (use Limiter); nil
	// when the client is opened without one.
	Budget BudgetFunc
}

// Planned reports whether rmmbridge does not speak the vendor yet.
func (s Spec) Planned() bool { return s.OpenRMM == nil && s.OpenPSA == nil }

// CredentialField is one credential of a connection. Values are at most
// limits.MaxCredentialLength bytes, or MaxLength when smaller.
type CredentialField struct {
	Name     string
	Required bool
	// Secret fields are passwords, keys and client secrets (documented
	// as such in openapi.yaml: format password); the others identify the
	// account (client ids, company ids, user names).
	Secret bool
	// MaxLength bounds the value in bytes (0: limits.MaxCredentialLength).
	MaxLength int
	// Pattern, when set, is a regular expression the value must match
	// (anchor it).
	Pattern     string
	Description string
}

// SettingType is the type of a setting's value.
type SettingType string

// The setting types, as JSON has them.
const (
	String     SettingType = "string"     // a JSON string (Go string)
	Integer    SettingType = "integer"    // a JSON number without fraction (Go int)
	Boolean    SettingType = "boolean"    // true or false (Go bool)
	StringList SettingType = "stringList" // an array of strings (Go []string)
)

// Setting is one typed connection setting.
type Setting struct {
	Name        string
	Type        SettingType
	Description string
	// Required settings must be given (a Default makes no sense then).
	Required bool
	// Default is used when the setting is absent or null: a string, int,
	// bool or []string matching Type; nil for none.
	Default any
	// Min and Max bound an Integer (nil: unbounded).
	Min, Max *int
	// MaxLength bounds a String, and each item of a StringList, in
	// characters (0: limits.MaxTextLength).
	MaxLength int
	// MaxItems bounds a StringList (0: limits.MaxMapEntries).
	MaxItems int
	// Pattern, when set, is a regular expression a String (or each item)
	// must match (anchor it).
	Pattern string
	// Enum, when set, lists the values a String may take.
	Enum []string
}

// Int returns a pointer to n, for Setting.Min and Max.
func Int(n int) *int { return &n }

// Offer is a capability a vendor declares.
type Offer struct {
	Capability Capability
	// NeedsSetting, when set, names the setting that must be set (not
	// empty, not zero) for a connection to have the capability, e.g.
	// the custom field our reference is stored in.
	NeedsSetting string
}

// Validate checks that the spec is well formed: a lower-case name, a
// known kind, unique well-formed field and setting names, defaults that
// pass their own validation, known capabilities of the vendor's kind that
// depend only on declared settings, and an opener of the right kind.
func (s Spec) Validate() error {
	if !nameRE().MatchString(s.Name) {
		return fmt.Errorf("vendor spec %q: the name must be lower-case letters and digits", s.Name)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("vendor spec %s: %s", s.Name, fmt.Sprintf(format, args...))
	}
	switch s.Kind {
	case KindRMM:
		if s.OpenPSA != nil {
			return bad("an RMM has no PSA opener")
		}
	case KindPSA:
		if s.OpenRMM != nil {
			return bad("a PSA has no RMM opener")
		}
	default:
		return bad("kind %q is neither rmm nor psa", s.Kind)
	}
	if s.DisplayName == "" {
		return bad("no display name")
	}
	seen := map[string]bool{}
	for _, f := range s.Credentials {
		if !fieldRE().MatchString(f.Name) || seen[f.Name] {
			return bad("credential %q is malformed or repeated", f.Name)
		}
		seen[f.Name] = true
		if f.MaxLength < 0 {
			return bad("credential %s: negative MaxLength", f.Name)
		}
		if _, err := regexp.Compile(f.Pattern); err != nil {
			return bad("credential %s: pattern: %v", f.Name, err)
		}
	}
	settings := map[string]Setting{}
	for _, st := range s.Settings {
		if isBudgetSetting(st.Name) {
			return bad("setting %q is one of the budget settings every connection has (BudgetSettings)", st.Name)
		}
		if err := st.validate(); err != nil {
			return bad("setting %q: %v", st.Name, err)
		}
		if _, dup := settings[st.Name]; dup {
			return bad("setting %q is repeated", st.Name)
		}
		settings[st.Name] = st
	}
	if b := s.Budget; b.RequestsPerMinute < 0 || b.MaxConcurrency < 0 || b.Share < 0 || b.Share > 1 {
		return bad("budget %+v: negative, or a share over 1", b)
	}
	offered := map[Capability]bool{}
	for _, o := range s.Capabilities {
		info, ok := capabilityInfo[o.Capability]
		switch {
		case !ok:
			return bad("unknown capability %q", o.Capability)
		case info.kind != s.Kind:
			return bad("capability %s is a %s capability", o.Capability, info.kind)
		case offered[o.Capability]:
			return bad("capability %s is offered twice", o.Capability)
		}
		offered[o.Capability] = true
		if o.NeedsSetting != "" {
			if _, ok := settings[o.NeedsSetting]; !ok {
				return bad("capability %s needs undeclared setting %q", o.Capability, o.NeedsSetting)
			}
		}
	}
	return nil
}

func (st Setting) validate() error {
	if !fieldRE().MatchString(st.Name) {
		return fmt.Errorf("malformed name")
	}
	switch st.Type {
	case String, Integer, Boolean, StringList:
	default:
		return fmt.Errorf("unknown type %q", st.Type)
	}
	if (st.Min != nil || st.Max != nil) && st.Type != Integer {
		return fmt.Errorf("min and max bound integers only")
	}
	if st.Min != nil && st.Max != nil && *st.Min > *st.Max {
		return fmt.Errorf("min %d is over max %d", *st.Min, *st.Max)
	}
	if len(st.Enum) > 0 && st.Type != String {
		return fmt.Errorf("enum applies to strings only")
	}
	if st.MaxItems != 0 && st.Type != StringList {
		return fmt.Errorf("maxItems applies to string lists only")
	}
	if st.MaxLength < 0 || st.MaxItems < 0 {
		return fmt.Errorf("negative bound")
	}
	if _, err := regexp.Compile(st.Pattern); err != nil {
		return fmt.Errorf("pattern: %w", err)
	}
	if st.Default != nil {
		if st.Required {
			return fmt.Errorf("a required setting has no default")
		}
		if _, fe := st.check("settings."+st.Name, st.Default, compile(st.Pattern)); fe != nil {
			return fmt.Errorf("default %v: %s", st.Default, fe.Message)
		}
	}
	return nil
}
