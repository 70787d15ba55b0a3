package console

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Roles.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
)

// OIDCConfig is the console's OpenID Connect client.
type OIDCConfig struct {
	// Issuer is the exact issuer URL (Cognito:
	// https://cognito-idp.<region>.amazonaws.com/<pool id>). Required.
	Issuer string
	// ClientID is the app client id (the ID token's audience). Required.
	ClientID string
	// ClientSecret, if the client has one (confidential client).
	ClientSecret string
	// GroupsClaim names the claim listing the user's groups (default
	// "groups"; Cognito: "cognito:groups").
	GroupsClaim string
	// OperatorGroups and ViewerGroups map groups to roles (defaults
	// "tenantry-operators" and "tenantry-viewers"); a user in neither is
	// refused.
	OperatorGroups []string
	ViewerGroups   []string
	// HTTPClient reaches the issuer (default: 10 s timeout).
	HTTPClient *http.Client
}

// Config configures the console.
type Config struct {
	// BaseURL is the console's external URL (the redirect URI is
	// BaseURL + "/callback"). Required.
	BaseURL string
	OIDC    OIDCConfig
	// InsecureCookies drops the Secure attribute of cookies: allowed only
	// for a plain-HTTP BaseURL on a loopback address (local development).
	InsecureCookies bool
	// SessionTTL bounds a session (default 8h; never beyond the ID token's
	// expiry).
	SessionTTL time.Duration
	// DocumentLimit bounds the documents listed per tenant (default 200).
	DocumentLimit int
	// DLQCacheTTL is how long a DLQ inspection is reused (default 15s).
	DLQCacheTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.OIDC.GroupsClaim == "" {
		c.OIDC.GroupsClaim = "groups"
	}
	if len(c.OIDC.OperatorGroups) == 0 {
		c.OIDC.OperatorGroups = []string{"tenantry-operators"}
	}
	if len(c.OIDC.ViewerGroups) == 0 {
		c.OIDC.ViewerGroups = []string{"tenantry-viewers"}
	}
	if c.OIDC.HTTPClient == nil {
		c.OIDC.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 8 * time.Hour
	}
	if c.DocumentLimit == 0 {
		c.DocumentLimit = 200
	}
	if c.DLQCacheTTL == 0 {
		c.DLQCacheTTL = 15 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, errors.New("BaseURL must be an absolute http(s) URL"))
	case u.Scheme == "http" && !c.InsecureCookies:
		errs = append(errs, errors.New("a plain-HTTP BaseURL needs InsecureCookies (loopback only)"))
	case c.InsecureCookies && (u.Scheme != "http" || !loopback(u.Hostname())):
		errs = append(errs, errors.New("InsecureCookies is allowed only for http://127.0.0.1 (or another loopback address)"))
	}
	if c.OIDC.Issuer == "" || c.OIDC.ClientID == "" {
		errs = append(errs, errors.New("OIDC Issuer and ClientID are required"))
	}
	if slices.ContainsFunc(c.OIDC.ViewerGroups, func(g string) bool { return slices.Contains(c.OIDC.OperatorGroups, g) }) {
		errs = append(errs, errors.New("a group cannot be both a viewer and an operator group"))
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 24*time.Hour {
		errs = append(errs, errors.New("SessionTTL must be within 1m..24h"))
	}
	if c.DocumentLimit < 1 || c.DocumentLimit > 10000 {
		errs = append(errs, errors.New("DocumentLimit must be within 1..10000"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("console: invalid config: %w", err)
	}
	return nil
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// role maps groups to a role ("" when none applies).
func (c OIDCConfig) role(groups []string) string {
	switch {
	case slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(c.OperatorGroups, g) }):
		return RoleOperator
	case slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(c.ViewerGroups, g) }):
		return RoleViewer
	}
	return ""
}
