package deployaws_test

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestTemplateSections(t *testing.T) {
	t.Parallel()
	checkTemplateSections(t, loadTemplate(t))
}

func checkTemplateSections(t reporter, tpl *cfnTemplate) {
	if v := tpl.Raw["AWSTemplateFormatVersion"]; v != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %v, want 2010-09-09", v)
	}
	if _, ok := tpl.Raw["Transform"]; ok {
		t.Error("the template must stay plain CloudFormation (no Transform): every resource is then checked here")
	}
	allowed := []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs"}
	for k := range tpl.Raw {
		if !slices.Contains(allowed, k) {
			t.Errorf("unknown top-level section %q", k)
		}
	}
	if d, _ := tpl.Raw["Description"].(string); d == "" || len(d) > 1024 {
		t.Errorf("Description must be 1..1024 characters, is %d", len(d))
	}
	limits := []struct {
		what string
		n    int
		max  int
	}{
		{"resources", len(tpl.Resources), 500},
		{"parameters", len(tpl.Parameters), 200},
		{"outputs", len(tpl.Outputs), 200},
		{"mappings", len(tpl.Mappings), 200},
	}
	for _, l := range limits {
		if l.n > l.max {
			t.Errorf("%d %s, CloudFormation allows %d", l.n, l.what, l.max)
		}
	}
	logicalID := regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
	attrs := []string{"Type", "Properties", "DependsOn", "Condition", "Metadata", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy"}
	for _, sec := range []string{"Parameters", "Resources", "Outputs", "Conditions", "Mappings", "Rules"} {
		m, _ := tpl.Raw[sec].(map[string]any)
		for id := range m {
			if !logicalID.MatchString(id) {
				t.Errorf("%s: logical id %q must be alphanumeric", sec, id)
			}
		}
	}
	for id, def := range tpl.Resources {
		if typ, _ := def["Type"].(string); !strings.HasPrefix(typ, "AWS::") {
			t.Errorf("resource %s: Type %q is not an AWS:: type", id, def["Type"])
		}
		for k := range def {
			if !slices.Contains(attrs, k) {
				t.Errorf("resource %s: unknown attribute %q", id, k)
			}
		}
		for _, p := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if v, ok := def[p]; ok && !slices.Contains([]any{"Delete", "Retain", "RetainExceptOnCreate", "Snapshot"}, v) {
				t.Errorf("resource %s: %s %v", id, p, v)
			}
		}
	}
	for id, def := range tpl.Outputs {
		if def["Value"] == nil {
			t.Errorf("output %s has no Value", id)
		}
		if d, _ := def["Description"].(string); d == "" {
			t.Errorf("output %s has no Description", id)
		}
	}
}

// refChecker collects the reference errors of one template.
type refChecker struct {
	tpl  *cfnTemplate
	errs []string
}

func (c *refChecker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *refChecker) isParam(n string) bool    { return c.tpl.Parameters[n] != nil }
func (c *refChecker) isResource(n string) bool { return c.tpl.Resources[n] != nil }

// check walks v (at path) and reports every intrinsic whose target does not
// exist. resourcesAllowed is false inside Conditions and Rules.
func (c *refChecker) check(path string, v any, resourcesAllowed bool) {
	walk(v, path, func(p string, v any) {
		k, arg, ok := intrinsic(v)
		if !ok {
			return
		}
		switch k {
		case "Ref":
			name, ok := arg.(string)
			switch {
			case !ok:
				c.errorf("%s: Ref to a non-string %v", p, arg)
			case pseudoParameters[name], c.isParam(name):
			case c.isResource(name):
				if !resourcesAllowed {
					c.errorf("%s: Ref to resource %s where only parameters may be used", p, name)
				}
			default:
				c.errorf("%s: Ref to unknown %q", p, name)
			}
		case "Fn::GetAtt":
			list, _ := arg.([]any)
			if len(list) != 2 {
				c.errorf("%s: Fn::GetAtt needs [resource, attribute]", p)
				return
			}
			if name, _ := list[0].(string); !c.isResource(name) {
				c.errorf("%s: Fn::GetAtt of unknown resource %q", p, list[0])
			}
		case "Fn::Sub":
			c.checkSub(p, arg)
		case "Fn::FindInMap":
			c.checkFindInMap(p, arg)
		case "Fn::If":
			list, _ := arg.([]any)
			if len(list) != 3 {
				c.errorf("%s: Fn::If needs [condition, then, else]", p)
				return
			}
			if name, _ := list[0].(string); c.tpl.Conditions[name] == nil {
				c.errorf("%s: Fn::If on unknown condition %q", p, list[0])
			}
		case "Condition":
			if name, _ := arg.(string); c.tpl.Conditions[name] == nil {
				c.errorf("%s: unknown condition %q", p, arg)
			}
		case "Fn::ImportValue":
			c.errorf("%s: Fn::ImportValue couples stacks; pass a parameter instead", p)
		}
	})
}

func (c *refChecker) checkSub(p string, arg any) {
	var s string
	vars := map[string]bool{}
	switch x := arg.(type) {
	case string:
		s = x
	case []any:
		if len(x) != 2 {
			c.errorf("%s: Fn::Sub list form needs [string, variables]", p)
			return
		}
		s, _ = x[0].(string)
		m, _ := x[1].(map[string]any)
		for k := range m {
			vars[k] = true
		}
	default:
		c.errorf("%s: Fn::Sub of %T", p, arg)
		return
	}
	parsed, err := parseSub(s)
	if err != nil {
		c.errorf("%s: Fn::Sub %q: %v", p, s, err)
		return
	}
	if len(parsed) == 0 {
		c.errorf("%s: Fn::Sub %q has no variables; use the plain string", p, s)
	}
	for _, v := range parsed {
		switch {
		case v.Attr == "" && (vars[v.Name] || pseudoParameters[v.Name] || c.isParam(v.Name) || c.isResource(v.Name)):
		case v.Attr != "" && c.isResource(v.Name):
		default:
			c.errorf("%s: Fn::Sub variable ${%s} resolves to nothing", p, strings.TrimSuffix(v.Name+"."+v.Attr, "."))
		}
	}
}

func (c *refChecker) checkFindInMap(p string, arg any) {
	list, _ := arg.([]any)
	if len(list) != 3 {
		c.errorf("%s: Fn::FindInMap needs three arguments", p)
		return
	}
	mapName, _ := list[0].(string)
	m, ok := c.tpl.Mappings[mapName].(map[string]any)
	if !ok {
		c.errorf("%s: Fn::FindInMap of unknown mapping %v", p, list[0])
		return
	}
	var keys []string
	switch k := list[1].(type) {
	case string:
		keys = []string{k}
	default:
		kind, a, ok := intrinsic(k)
		name, _ := a.(string)
		av, hasAV := c.tpl.Parameters[name]["AllowedValues"].([]any)
		if !ok || kind != "Ref" || !hasAV {
			c.errorf("%s: Fn::FindInMap top-level key must be a literal or a Ref to a parameter with AllowedValues", p)
			return
		}
		for _, v := range av {
			keys = append(keys, scalarString(v))
		}
	}
	second, _ := list[2].(string)
	for _, k := range keys {
		inner, ok := m[k].(map[string]any)
		if !ok {
			c.errorf("%s: mapping %s has no key %q", p, mapName, k)
			continue
		}
		if _, ok := inner[second]; !ok {
			c.errorf("%s: mapping %s.%s has no key %q", p, mapName, k, second)
		}
	}
}

func TestReferencesResolve(t *testing.T) {
	t.Parallel()
	checkReferencesResolve(t, loadTemplate(t))
}

func checkReferencesResolve(t reporter, tpl *cfnTemplate) {
	c := &refChecker{tpl: tpl}
	for id, def := range tpl.Resources {
		c.check("Resources/"+id, def, true)
		if cond, ok := def["Condition"].(string); ok && tpl.Conditions[cond] == nil {
			c.errorf("Resources/%s: Condition %q does not exist", id, cond)
		}
		for _, d := range asList(def["DependsOn"]) {
			if name, _ := d.(string); !c.isResource(name) {
				c.errorf("Resources/%s: DependsOn unknown %v", id, d)
			}
		}
	}
	for id, def := range tpl.Outputs {
		c.check("Outputs/"+id, def, true)
		if cond, ok := def["Condition"].(string); ok && tpl.Conditions[cond] == nil {
			c.errorf("Outputs/%s: Condition %q does not exist", id, cond)
		}
	}
	c.check("Conditions", tpl.Conditions, false)
	c.check("Rules", tpl.Rules, false)
	for _, e := range c.errs {
		t.Error(e)
	}
}

// TestEverythingDeclaredIsUsed keeps the template free of dead parameters,
// conditions and mappings (a typo in a name would otherwise leave one behind).
func TestEverythingDeclaredIsUsed(t *testing.T) {
	t.Parallel()
	checkEverythingDeclaredIsUsed(t, loadTemplate(t))
}

func checkEverythingDeclaredIsUsed(t reporter, tpl *cfnTemplate) {
	used := map[string]bool{}
	mark := func(_ string, v any) {
		k, arg, ok := intrinsic(v)
		if !ok {
			if m, ok := v.(map[string]any); ok {
				if c, ok := m["Condition"].(string); ok {
					used["cond:"+c] = true
				}
			}
			return
		}
		switch k {
		case "Ref":
			used[fmt.Sprint(arg)] = true
		case "Condition":
			used["cond:"+fmt.Sprint(arg)] = true
		case "Fn::If":
			if list, ok := arg.([]any); ok && len(list) > 0 {
				used["cond:"+fmt.Sprint(list[0])] = true
			}
		case "Fn::FindInMap":
			if list, ok := arg.([]any); ok && len(list) > 0 {
				used["map:"+fmt.Sprint(list[0])] = true
			}
		case "Fn::Sub":
			s, _ := arg.(string)
			if list, ok := arg.([]any); ok && len(list) > 0 {
				s, _ = list[0].(string)
				walk(list[1], "", func(_ string, v any) {
					if k, a, ok := intrinsic(v); ok && k == "Ref" {
						used[fmt.Sprint(a)] = true
					}
				})
			}
			vars, _ := parseSub(s)
			for _, v := range vars {
				used[v.Name] = true
			}
		}
	}
	walk(tpl.Raw["Resources"], "", mark)
	walk(tpl.Raw["Outputs"], "", mark)
	walk(tpl.Raw["Conditions"], "", mark)
	walk(tpl.Raw["Rules"], "", mark)
	for name := range tpl.Parameters {
		if !used[name] {
			t.Errorf("parameter %s is never used", name)
		}
	}
	for name := range tpl.Conditions {
		if !used["cond:"+name] {
			t.Errorf("condition %s is never used", name)
		}
	}
	for name := range tpl.Mappings {
		if !used["map:"+name] {
			t.Errorf("mapping %s is never used", name)
		}
	}
}

// TestEveryScenarioRenders renders the template for every combination of
// the parameters that conditions read and checks that nothing refers to a
// resource the scenario does not create, and that no list or policy is left
// empty by AWS::NoValue.
func TestEveryScenarioRenders(t *testing.T) {
	t.Parallel()
	checkEveryScenarioRenders(t, loadTemplate(t))
}

func checkEveryScenarioRenders(t reporter, tpl *cfnTemplate) {
	scs, err := tpl.scenarios(conditionSamples)
	if err != nil {
		t.Error(err)
		return
	}
	if len(scs) < 2 {
		t.Errorf("%d scenarios; the conditions are not exercised", len(scs))
		return
	}
	for _, sc := range scs {
		r, err := tpl.render(sc, nil)
		if err != nil {
			t.Errorf("%s: %v", sc, err)
			continue
		}
		c := &refChecker{tpl: r}
		for id, def := range r.Resources {
			c.check("Resources/"+id, def, true)
			for _, d := range asList(def["DependsOn"]) {
				if name, _ := d.(string); !c.isResource(name) {
					c.errorf("Resources/%s: DependsOn %v, which this scenario does not create", id, d)
				}
			}
		}
		for id, def := range r.Outputs {
			c.check("Outputs/"+id, def, true)
		}
		for _, st := range allStatements(r) {
			if len(st.Actions) == 0 || (len(st.Resources) == 0 && !st.NotResource && st.Principal == nil) {
				c.errorf("%s: statement %q is left without actions or resources", st.Where, st.Sid)
			}
		}
		for _, e := range c.errs {
			t.Errorf("%s: %s", sc, e)
		}
	}
	for _, want := range []map[string]string{
		{"IngestPath": "sqs"}, {"IngestPath": "stepfunctions"}, {"EnvelopeKeys": "A,B", "SigningKeys": "B"},
	} {
		found := false
		for _, sc := range scs {
			match := true
			for k, v := range want {
				match = match && sc.Params[k] == v
			}
			found = found || match
		}
		if !found {
			t.Errorf("no scenario with %v", want)
		}
	}
	for _, sc := range scs {
		if sc.Params["EnvelopeKeys"] == "A" && sc.Params["SigningKeys"] == "B" {
			t.Errorf("the Rules accept signing with key B while only key A is trusted: %s", sc)
		}
	}
}

var parameterTypes = []string{
	"String", "Number", "List<Number>", "CommaDelimitedList",
	"AWS::EC2::VPC::Id", "AWS::EC2::Subnet::Id", "AWS::EC2::SecurityGroup::Id",
	"List<AWS::EC2::Subnet::Id>", "List<AWS::EC2::SecurityGroup::Id>", "AWS::SSM::Parameter::Value<String>",
}

func TestParametersHaveTypesAndConstraints(t *testing.T) {
	t.Parallel()
	checkParametersHaveTypesAndConstraints(t, loadTemplate(t))
}

func checkParametersHaveTypesAndConstraints(t reporter, tpl *cfnTemplate) {
	for name, def := range tpl.Parameters {
		typ, _ := def["Type"].(string)
		if !slices.Contains(parameterTypes, typ) {
			t.Errorf("parameter %s: Type %q is missing or not one this template may use", name, def["Type"])
			continue
		}
		if d, _ := def["Description"].(string); d == "" {
			t.Errorf("parameter %s has no Description", name)
		}
		_, hasAllowed := def["AllowedValues"]
		_, hasPattern := def["AllowedPattern"]
		_, hasMin := def["MinValue"]
		_, hasMax := def["MaxValue"]
		switch {
		case strings.Contains(typ, "AWS::"):
			// AWS-specific types are validated by CloudFormation against the account.
		case typ == "Number" || typ == "List<Number>":
			if !hasAllowed && !(hasMin && hasMax) {
				t.Errorf("parameter %s: a Number needs AllowedValues or MinValue and MaxValue", name)
			}
		default:
			if !hasAllowed && !hasPattern {
				t.Errorf("parameter %s: a %s needs AllowedValues or AllowedPattern", name, typ)
			}
		}
		if def["NoEcho"] == true && def["Default"] != nil {
			t.Errorf("parameter %s: NoEcho with a Default puts the secret in the template", name)
		}
		var values []any
		if d, ok := def["Default"]; ok {
			values = append(values, d)
		}
		if s, ok := sampleParameters[name]; ok {
			values = append(values, s)
		} else if def["Default"] == nil {
			t.Errorf("parameter %s: no Default and no entry in sampleParameters", name)
		}
		for _, v := range values {
			for _, e := range asList(v) {
				if err := satisfies(def, scalarString(e)); err != nil {
					t.Errorf("parameter %s: value %q: %v", name, scalarString(e), err)
				}
			}
		}
	}
}

// satisfies checks a value against a parameter's constraints (CloudFormation
// matches AllowedPattern against the whole value).
func satisfies(def map[string]any, v string) error {
	if av, ok := def["AllowedValues"].([]any); ok {
		found := false
		for _, a := range av {
			found = found || scalarString(a) == v
		}
		if !found {
			return fmt.Errorf("not in AllowedValues %v", av)
		}
	}
	if p, ok := def["AllowedPattern"].(string); ok {
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return fmt.Errorf("AllowedPattern does not compile: %w", err)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("does not match AllowedPattern %s", p)
		}
	}
	if n, ok := def["MinLength"].(float64); ok && float64(len(v)) < n {
		return fmt.Errorf("shorter than MinLength %v", n)
	}
	if n, ok := def["MaxLength"].(float64); ok && float64(len(v)) > n {
		return fmt.Errorf("longer than MaxLength %v", n)
	}
	if def["Type"] == "Number" {
		var f float64
		if _, err := fmt.Sscan(v, &f); err != nil {
			return fmt.Errorf("not a number")
		}
		if n, ok := def["MinValue"].(float64); ok && f < n {
			return fmt.Errorf("below MinValue %v", n)
		}
		if n, ok := def["MaxValue"].(float64); ok && f > n {
			return fmt.Errorf("above MaxValue %v", n)
		}
	}
	return nil
}

// TestParameterConstraintsReject feeds values an attacker or a typo would
// supply and expects the constraints to refuse each.
func TestParameterConstraintsReject(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	cases := []struct {
		param, value string
	}{
		{"NamePrefix", "Tenantry"},
		{"NamePrefix", "a"},
		{"NamePrefix", "has_underscore"},
		{"NamePrefix", "this-prefix-is-far-too-long-for-bucket-names"},
		{"ImageTag", "latest;rm -rf /"},
		{"ImageTag", ""},
		{"ImageRepository", "UPPER/case"},
		{"ApiTrustedPrincipalArn", "*"},
		{"ApiTrustedPrincipalArn", "arn:aws:iam::111122223333:user/alice"},
		{"ApiTrustedPrincipalArn", "arn:aws:iam::*:root"},
		{"OperatorTrustedPrincipalArn", "arn:aws:sts::111122223333:assumed-role/x/y"},
		{"DatabaseHost", "db.example.com/evil"},
		{"DatabaseHost", "host with space"},
		{"DatabaseName", "Robert'); DROP TABLE"},
		{"DatabaseWorkerUser", "postgres\"--"},
		{"DatabasePort", "0"},
		{"DatabasePort", "70000"},
		{"MinTasks", "0"},
		{"EnvelopeKeys", "C"},
		{"EnvelopeKeys", ""},
		{"SigningKeys", "B,A"},
		{"Embedder", "bedrock"},
		{"LogRetentionDays", "7"},
		{"LogRetentionDays", "30"},
		{"StateMachineLogLevel", "OFF"},
		{"AlarmEmail", "not-an-address"},
		{"EnvelopeAudience", ""},
		{"EnvelopeAudience", "aud with spaces"},
	}
	for _, tc := range cases {
		def := tpl.Parameters[tc.param]
		if def == nil {
			t.Errorf("parameter %s is gone; update this test", tc.param)
			continue
		}
		if satisfies(def, tc.value) == nil {
			t.Errorf("parameter %s accepts %q", tc.param, tc.value)
		}
	}
}

func TestBucket(t *testing.T) {
	t.Parallel()
	checkBucket(t, loadTemplate(t))
}

func checkBucket(t reporter, tpl *cfnTemplate) {
	buckets := tpl.resourcesOfType("AWS::S3::Bucket")
	if fmt.Sprint(buckets) != "[AnchorBucket UploadBucket]" {
		t.Errorf("buckets %v, want exactly the upload and anchor buckets", buckets)
		return
	}
	checkAnchorBucket(t, tpl)
	buckets = []string{"UploadBucket"}
	p := tpl.props(buckets[0])
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if get(p, "PublicAccessBlockConfiguration", k) != true {
			t.Errorf("PublicAccessBlockConfiguration.%s must be true", k)
		}
	}
	sse := asList(get(p, "BucketEncryption", "ServerSideEncryptionConfiguration"))
	if len(sse) == 0 || get(sse[0], "ServerSideEncryptionByDefault", "SSEAlgorithm") == nil {
		t.Error("bucket has no default encryption")
	}
	if get(asList(get(p, "OwnershipControls", "Rules"))[0], "ObjectOwnership") != "BucketOwnerEnforced" {
		t.Error("ACLs must be disabled (BucketOwnerEnforced)")
	}
	rules := asList(get(p, "LifecycleConfiguration", "Rules"))
	var intermediate, multipart bool
	for _, r := range rules {
		if get(r, "Prefix") == "intermediate/" && get(r, "ExpirationInDays") != nil && get(r, "Status") == "Enabled" {
			intermediate = true
		}
		if get(r, "AbortIncompleteMultipartUpload") != nil {
			multipart = true
		}
	}
	if !intermediate {
		t.Error("no lifecycle rule expires intermediate/")
	}
	if !multipart {
		t.Error("no lifecycle rule aborts incomplete multipart uploads")
	}
	// Notifications: in every scenario exactly one path delivers uploads.
	scs, err := tpl.scenarios(conditionSamples)
	if err != nil {
		t.Error(err)
		return
	}
	for _, sc := range scs {
		r, err := tpl.render(sc, nil)
		if err != nil {
			t.Error(err)
			return
		}
		n := get(r.props(buckets[0]), "NotificationConfiguration")
		queues := asList(get(n, "QueueConfigurations"))
		eb := get(n, "EventBridgeConfiguration", "EventBridgeEnabled") == true
		switch sc.Params["IngestPath"] {
		case "sqs":
			var created, removed bool
			for _, q := range queues {
				created = created || get(q, "Event") == "s3:ObjectCreated:*"
				removed = removed || get(q, "Event") == "s3:ObjectRemoved:*"
			}
			if !created || !removed || eb {
				t.Errorf("%s: want ObjectCreated and ObjectRemoved to the job queue only", sc)
			}
		case "stepfunctions":
			if len(queues) != 0 || !eb {
				t.Errorf("%s: want EventBridge only (the rules route uploads and deletions)", sc)
			}
			if r.Resources["ObjectCreatedRule"] == nil || r.Resources["ObjectDeletedRule"] == nil {
				t.Errorf("%s: EventBridge rules missing", sc)
			}
		}
	}
	assertDeniesInsecureTransport(t, tpl, "AWS::S3::BucketPolicy", "PolicyDocument")
}

// checkAnchorBucket: the audit anchors live under Object Lock in COMPLIANCE
// mode with versioning, are retained with the stack, and the bucket is as
// closed as the upload bucket.
func checkAnchorBucket(t reporter, tpl *cfnTemplate) {
	p := tpl.props("AnchorBucket")
	if p["ObjectLockEnabled"] != true || get(p, "ObjectLockConfiguration", "ObjectLockEnabled") != "Enabled" {
		t.Error("AnchorBucket: Object Lock must be enabled")
	}
	if get(p, "ObjectLockConfiguration", "Rule", "DefaultRetention", "Mode") != "COMPLIANCE" {
		t.Error("AnchorBucket: default retention must be COMPLIANCE")
	}
	if get(p, "VersioningConfiguration", "Status") != "Enabled" {
		t.Error("AnchorBucket: versioning must be enabled")
	}
	if tpl.Resources["AnchorBucket"]["DeletionPolicy"] != "Retain" {
		t.Error("AnchorBucket must be retained when the stack is deleted")
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if get(p, "PublicAccessBlockConfiguration", k) != true {
			t.Errorf("AnchorBucket: PublicAccessBlockConfiguration.%s must be true", k)
		}
	}
	td := tpl.props("AnchorTaskDefinition")
	c := asList(get(td, "ContainerDefinitions"))
	if len(c) != 1 || fmt.Sprint(get(c[0], "Command")) != "[audit anchor]" || get(c[0], "ReadonlyRootFilesystem") != true {
		t.Errorf("AnchorTaskDefinition must run `audit anchor` read-only: %v", c)
	}
	if get(tpl.props("AnchorScheduleRule"), "ScheduleExpression") == nil {
		t.Error("AnchorScheduleRule has no schedule")
	}
}

func assertDeniesInsecureTransport(t reporter, tpl *cfnTemplate, typ, doc string) {
	ids := tpl.resourcesOfType(typ)
	if len(ids) == 0 {
		t.Errorf("no %s", typ)
	}
	for _, id := range ids {
		found := false
		for _, st := range asList(get(tpl.props(id), doc, "Statement")) {
			if get(st, "Effect") == "Deny" && get(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s does not deny requests without TLS", id)
		}
	}
}

func TestQueues(t *testing.T) {
	t.Parallel()
	checkQueues(t, loadTemplate(t))
}

func checkQueues(t reporter, tpl *cfnTemplate) {
	want := map[string]string{"JobQueue": "JobDeadLetterQueue", "TaskQueue": "TaskDeadLetterQueue"}
	for q, dlq := range want {
		p := tpl.props(q)
		if p == nil {
			t.Errorf("queue %s missing", q)
			continue
		}
		target := get(p, "RedrivePolicy", "deadLetterTargetArn")
		if k, arg, _ := intrinsic(target); k != "Fn::GetAtt" || fmt.Sprint(arg) != fmt.Sprint([]any{dlq, "Arn"}) {
			t.Errorf("%s: RedrivePolicy.deadLetterTargetArn = %v, want %s.Arn", q, target, dlq)
		}
		if get(p, "RedrivePolicy", "maxReceiveCount") == nil {
			t.Errorf("%s: RedrivePolicy.maxReceiveCount missing", q)
		}
		if get(p, "ReceiveMessageWaitTimeSeconds") != 20.0 {
			t.Errorf("%s: use long polling (ReceiveMessageWaitTimeSeconds 20)", q)
		}
		if get(tpl.props(dlq), "MessageRetentionPeriod") != 1209600.0 {
			t.Errorf("%s: keep dead letters the full 14 days", dlq)
		}
	}
	for _, id := range tpl.resourcesOfType("AWS::SQS::Queue") {
		p := tpl.props(id)
		if get(p, "SqsManagedSseEnabled") != true && get(p, "KmsMasterKeyId") == nil {
			t.Errorf("%s is not encrypted at rest", id)
		}
	}
	// The job queue policy lets S3 send only for this stack's bucket.
	var s3Allowed bool
	for _, st := range asList(get(tpl.props("JobQueuePolicy"), "PolicyDocument", "Statement")) {
		if get(st, "Principal", "Service") == "s3.amazonaws.com" {
			s3Allowed = get(st, "Condition", "ArnEquals", "aws:SourceArn") != nil &&
				get(st, "Condition", "StringEquals", "aws:SourceAccount") != nil
		}
	}
	if !s3Allowed {
		t.Error("JobQueuePolicy must let s3.amazonaws.com send, bound to the bucket ARN and account")
	}
	if !slices.Contains(asList(tpl.Resources["UploadBucket"]["DependsOn"]), any("JobQueuePolicy")) {
		t.Error("UploadBucket must depend on JobQueuePolicy (S3 tests the destination when notifications are set)")
	}
	assertDeniesInsecureTransport(t, tpl, "AWS::SQS::QueuePolicy", "PolicyDocument")
	covered := map[string]bool{}
	for _, id := range tpl.resourcesOfType("AWS::SQS::QueuePolicy") {
		for _, q := range asList(get(tpl.props(id), "Queues")) {
			if _, arg, ok := intrinsic(q); ok {
				covered[fmt.Sprint(arg)] = true
			}
		}
	}
	for _, id := range tpl.resourcesOfType("AWS::SQS::Queue") {
		if !covered[id] {
			t.Errorf("queue %s has no queue policy denying insecure transport", id)
		}
	}
}

func TestWorkerService(t *testing.T) {
	t.Parallel()
	checkWorkerService(t, loadTemplate(t))
}

func checkWorkerService(t reporter, tpl *cfnTemplate) {
	td := tpl.props("WorkerTaskDefinition")
	if !slices.Contains(asList(td["RequiresCompatibilities"]), any("FARGATE")) || td["NetworkMode"] != "awsvpc" {
		t.Error("the worker must be a Fargate task in awsvpc mode")
	}
	containers := asList(td["ContainerDefinitions"])
	if len(containers) != 1 {
		t.Errorf("%d containers, want the worker only", len(containers))
		return
	}
	c := containers[0]
	if cmd := fmt.Sprint(get(c, "Command")); cmd != "[worker]" {
		t.Errorf("Command = %s, want [worker] (the image's ENTRYPOINT is the binary)", cmd)
	}
	if get(c, "ReadonlyRootFilesystem") != true || get(c, "Privileged") == true {
		t.Error("the worker container must be read-only and unprivileged")
	}
	if u, _ := get(c, "User").(string); u == "" || strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("User = %q, want a non-root uid", u)
	}
	if get(c, "LogConfiguration", "LogDriver") != "awslogs" {
		t.Error("the worker must log to CloudWatch Logs")
	}
	svc := tpl.props("WorkerService")
	if get(svc, "NetworkConfiguration", "AwsvpcConfiguration", "AssignPublicIp") != "DISABLED" {
		t.Error("worker tasks must not get public IPs")
	}
	if get(svc, "DeploymentConfiguration", "DeploymentCircuitBreaker", "Rollback") != true {
		t.Error("deployments must roll back on failure")
	}
	if _, ok := svc["DesiredCount"]; ok {
		t.Error("DesiredCount would reset autoscaling on every stack update")
	}
	// Scaling on queue depth: the target tracking expression reads the
	// visible messages of both queues and divides by running tasks.
	pol := tpl.props("WorkerBacklogScaling")
	metrics := asList(get(pol, "TargetTrackingScalingPolicyConfiguration", "CustomizedMetricSpecification", "Metrics"))
	var queues []string
	var expr string
	for _, m := range metrics {
		if get(m, "MetricStat", "Metric", "MetricName") == "ApproximateNumberOfMessagesVisible" {
			for _, d := range asList(get(m, "MetricStat", "Metric", "Dimensions")) {
				if _, arg, ok := intrinsic(get(d, "Value")); ok {
					queues = append(queues, fmt.Sprint(asList(arg)[0]))
				}
			}
		}
		if e, ok := get(m, "Expression").(string); ok && get(m, "ReturnData") == true {
			expr = e
		}
	}
	sort.Strings(queues)
	if fmt.Sprint(queues) != "[JobQueue TaskQueue]" || !strings.Contains(expr, "running") {
		t.Errorf("scaling reads queues %v with expression %q; want backlog of both queues per running task", queues, expr)
	}
}

func TestAlarms(t *testing.T) {
	t.Parallel()
	checkAlarms(t, loadTemplate(t))
}

func checkAlarms(t reporter, tpl *cfnTemplate) {
	type alarm struct{ metric, dim string }
	var alarms []alarm
	for _, id := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		p := tpl.props(id)
		if len(asList(p["AlarmActions"])) == 0 || p["ActionsEnabled"] != true {
			t.Errorf("alarm %s notifies nobody", id)
		}
		metrics := []any{p}
		for _, m := range asList(p["Metrics"]) {
			metrics = append(metrics, get(m, "MetricStat", "Metric"))
		}
		for _, m := range metrics {
			name, _ := get(m, "MetricName").(string)
			if name == "" {
				continue
			}
			alarms = append(alarms, alarm{name, ""})
			for _, d := range asList(get(m, "Dimensions")) {
				if _, arg, ok := intrinsic(get(d, "Value")); ok {
					alarms = append(alarms, alarm{name, fmt.Sprint(asList(arg)[0])})
				}
			}
		}
	}
	want := []alarm{
		{"ApproximateNumberOfMessagesVisible", "JobDeadLetterQueue"},
		{"ApproximateNumberOfMessagesVisible", "TaskDeadLetterQueue"},
		{"ApproximateAgeOfOldestMessage", "JobQueue"},
		{"ApproximateAgeOfOldestMessage", "TaskQueue"},
		{"WorkerErrors", ""},
		{"ExecutionsFailed", "PipelineStateMachine"},
		{"RunningTaskCount", "WorkerService"},
	}
	for _, w := range want {
		if !slices.Contains(alarms, w) {
			t.Errorf("no alarm on %s of %s", w.metric, w.dim)
		}
	}
	f := tpl.props("WorkerErrorsMetricFilter")
	if pat, _ := f["FilterPattern"].(string); !strings.Contains(pat, `$.level = "error"`) {
		t.Errorf("error metric filter pattern %q does not match zap's JSON error level", pat)
	}
}

func TestOutputsForTheBackend(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, name := range []string{
		"BucketName", "JobQueueUrl", "JobDeadLetterQueueUrl", "TaskQueueUrl", "TaskDeadLetterQueueUrl",
		"SigningKeyArns", "SigningKeyIds", "TrustedKeyArns", "StateMachineArn", "DatabaseSecretArn",
		"ApiRoleArn", "OperatorRoleArn", "AlarmTopicArn",
	} {
		if tpl.Outputs[name] == nil {
			t.Errorf("output %s missing", name)
		}
	}
}

func TestNoSecretsInTemplate(t *testing.T) {
	t.Parallel()
	checkNoSecretsInTemplate(t, loadTemplate(t))
}

func checkNoSecretsInTemplate(t reporter, tpl *cfnTemplate) {
	secretish := regexp.MustCompile(`(?i)(password|secret|token|apikey|api_key)`)
	walk(tpl.Raw, "", func(p string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, val := range m {
			s, isString := val.(string)
			if isString && secretish.MatchString(k) && s != "" && k != "GenerateStringKey" {
				t.Errorf("%s/%s holds a literal %q; secrets come from Secrets Manager", p, k, s)
			}
		}
	})
	for _, c := range asList(get(tpl.props("WorkerTaskDefinition"), "ContainerDefinitions")) {
		for _, e := range asList(get(c, "Environment")) {
			name, _ := get(e, "Name").(string)
			if secretish.MatchString(name) && !strings.HasSuffix(name, "_ARN") {
				t.Errorf("environment variable %s looks like a secret in plain text", name)
			}
			if strings.HasPrefix(name, "AWS_") {
				t.Errorf("environment variable %s: credentials and region come from the task role and Fargate", name)
			}
		}
	}
}

// TestConstructedARNsMatchNames: some ARNs are built from names with Fn::Sub
// (to avoid dependency cycles); they must name what the resources are really
// called, or the policy silently matches nothing on AWS.
func TestConstructedARNsMatchNames(t *testing.T) {
	t.Parallel()
	checkConstructedARNsMatchNames(t, loadTemplate(t))
}

func checkConstructedARNsMatchNames(t reporter, tpl *cfnTemplate) {
	sub := func(v any) string {
		if k, arg, ok := intrinsic(v); ok && k == "Fn::Sub" {
			s, _ := arg.(string)
			return s
		}
		s, _ := v.(string)
		return s
	}
	name := func(id, prop string) string { return sub(tpl.props(id)[prop]) }
	queueStmt := func(principal string) any {
		for _, st := range asList(get(tpl.props("JobQueuePolicy"), "PolicyDocument", "Statement")) {
			if _, arg, ok := intrinsic(st); ok {
				if list, _ := arg.([]any); len(list) == 3 {
					st = list[1]
				}
			}
			if get(st, "Principal", "Service") == principal {
				return st
			}
		}
		return nil
	}
	cases := []struct {
		what, got, want string
	}{
		{"JobQueuePolicy S3 source ARN", sub(get(queueStmt("s3.amazonaws.com"), "Condition", "ArnEquals", "aws:SourceArn")),
			"arn:${AWS::Partition}:s3:::" + name("UploadBucket", "BucketName")},
		{"JobQueuePolicy EventBridge source ARN", sub(get(queueStmt("events.amazonaws.com"), "Condition", "ArnEquals", "aws:SourceArn")),
			"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/" + name("ObjectDeletedRule", "Name")},
		{"StateMachineRole trust source ARN", sub(get(asList(get(tpl.props("StateMachineRole"), "AssumeRolePolicyDocument", "Statement"))[0], "Condition", "ArnLike", "aws:SourceArn")),
			"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:" + name("PipelineStateMachine", "StateMachineName")},
	}
	execARN := struct{ what, got, want string }{what: "OperatorRole execution ARNs",
		want: "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:" + name("PipelineStateMachine", "StateMachineName") + ":*"}
	for _, pol := range asList(get(tpl.props("OperatorRole"), "Policies")) {
		for _, st := range asList(get(pol, "PolicyDocument", "Statement")) {
			if get(st, "Sid") == "RedriveExecutions" {
				execARN.got = sub(get(st, "Resource"))
			}
		}
	}
	cases = append(cases, execARN)
	for _, c := range cases {
		if c.got == "" || c.got != c.want {
			t.Errorf("%s is %q, want %q", c.what, c.got, c.want)
		}
	}
	// The logs key lets CloudWatch Logs use it for this stack's log groups only.
	var pattern string
	for _, st := range asList(get(tpl.props("LogsKey"), "KeyPolicy", "Statement")) {
		if p := sub(get(st, "Condition", "ArnLike", "kms:EncryptionContext:aws:logs:arn")); p != "" {
			pattern = p
		}
	}
	prefix := strings.TrimSuffix(strings.TrimPrefix(pattern, "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"), "*")
	if prefix == pattern || prefix == "" {
		t.Errorf("LogsKey encryption-context condition %q is not a log-group ARN prefix", pattern)
	}
	for _, id := range tpl.resourcesOfType("AWS::Logs::LogGroup") {
		if n := name(id, "LogGroupName"); !strings.HasPrefix(n, prefix) {
			t.Errorf("log group %s (%s) is outside the LogsKey condition %s*", id, n, prefix)
		}
	}
}
