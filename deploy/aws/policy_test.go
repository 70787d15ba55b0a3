package deployaws_test

// Policy statements of a template: identity policies of roles, trust
// policies, and resource policies (key, queue, bucket, topic policies).

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

type policyKind string

const (
	identityPolicy policyKind = "identity"
	trustPolicy    policyKind = "trust"
	resourcePolicy policyKind = "resource"
)

type statement struct {
	Where       string     // path in the template
	Owner       string     // logical id of the resource that holds it
	OwnerType   string     // its resource type
	Kind        policyKind // identity, trust or resource
	Roles       []string   // identity policies: the roles it is attached to
	Sid         string
	Effect      string
	Actions     []string
	NotAction   bool
	Resources   []any
	NotResource bool
	Principal   any
	Condition   any
}

// allStatements lists every policy statement of the template, sorted by place.
func allStatements(t *cfnTemplate) []statement {
	var out []statement
	add := func(owner, typ, where string, kind policyKind, roles []string, doc any) {
		for i, s := range asList(get(doc, "Statement")) {
			m, ok := s.(map[string]any)
			if !ok {
				continue
			}
			st := statement{
				Where: fmt.Sprintf("%s/Statement/%d", where, i), Owner: owner, OwnerType: typ, Kind: kind, Roles: roles,
				Principal: m["Principal"], Condition: m["Condition"],
			}
			st.Sid, _ = m["Sid"].(string)
			st.Effect, _ = m["Effect"].(string)
			acts := m["Action"]
			if na, ok := m["NotAction"]; ok {
				acts, st.NotAction = na, true
			}
			for _, a := range asList(acts) {
				st.Actions = append(st.Actions, fmt.Sprint(a))
			}
			st.Resources = asList(m["Resource"])
			if nr, ok := m["NotResource"]; ok {
				st.Resources, st.NotResource = asList(nr), true
			}
			out = append(out, st)
		}
	}
	for id, def := range t.Resources {
		typ, _ := def["Type"].(string)
		p, _ := def["Properties"].(map[string]any)
		base := "Resources/" + id + "/Properties"
		switch typ {
		case "AWS::IAM::Role":
			add(id, typ, base+"/AssumeRolePolicyDocument", trustPolicy, []string{id}, p["AssumeRolePolicyDocument"])
			for i, pol := range asList(p["Policies"]) {
				add(id, typ, fmt.Sprintf("%s/Policies/%d", base, i), identityPolicy, []string{id}, get(pol, "PolicyDocument"))
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			var roles []string
			for _, r := range asList(p["Roles"]) {
				if k, arg, ok := intrinsic(r); ok && k == "Ref" {
					roles = append(roles, fmt.Sprint(arg))
				} else {
					roles = append(roles, fmt.Sprint(r))
				}
			}
			add(id, typ, base+"/PolicyDocument", identityPolicy, roles, p["PolicyDocument"])
		case "AWS::KMS::Key":
			add(id, typ, base+"/KeyPolicy", resourcePolicy, nil, p["KeyPolicy"])
		case "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy":
			add(id, typ, base+"/PolicyDocument", resourcePolicy, nil, p["PolicyDocument"])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Where < out[j].Where })
	return out
}

// roleActions is the set of actions the identity policies of a role allow.
func roleActions(t *cfnTemplate, role string) map[string]bool {
	out := map[string]bool{}
	for _, st := range allStatements(t) {
		if st.Kind == identityPolicy && st.Effect == "Allow" && slices.Contains(st.Roles, role) {
			for _, a := range st.Actions {
				out[a] = true
			}
		}
	}
	return out
}

// principalRoles returns the logical ids of roles a principal names through
// Fn::GetAtt Role.Arn, and whether it names anything else (a service, "*",
// an account).
func principalRoles(p any) (roles []string, other []string) {
	var visit func(v any)
	visit = func(v any) {
		if k, arg, ok := intrinsic(v); ok {
			if list, _ := arg.([]any); k == "Fn::GetAtt" && len(list) == 2 && list[1] == "Arn" {
				roles = append(roles, fmt.Sprint(list[0]))
				return
			}
			other = append(other, fmt.Sprint(v))
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				visit(e)
			}
		case []any:
			for _, e := range x {
				visit(e)
			}
		case string:
			other = append(other, x)
		}
	}
	visit(p)
	sort.Strings(roles)
	return roles, other
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func setDiff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func isWildcardPrincipal(p any) bool {
	if p == "*" {
		return true
	}
	for _, v := range asList(get(p, "AWS")) {
		if v == "*" {
			return true
		}
	}
	return false
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }
