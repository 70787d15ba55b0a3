package deployaws_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/anchor"
	"github.com/tenantry/tenantry/internal/dbauth"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/embed/bedrock"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/presign"
	"github.com/tenantry/tenantry/internal/sfnctl"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/sqssource"
)

// codeGrant ties a package that calls AWS to a role: the role must be
// allowed exactly the union of the actions its packages use.
type codeGrant struct {
	pkg     string   // package directory below the module root
	actions []string // the package's IAMActions
	use     []string // the subset this role needs; nil means all of actions
	pending bool     // the package has no iam.go yet: actions are what it will call
	// implied are IAM actions the package's calls need although its iam.go
	// does not list them, with the reason (e.g. a read by VersionId).
	implied []string
	why     string
}

func (g codeGrant) used() []string {
	if g.use != nil {
		return g.use
	}
	return g.actions
}

// versionedRead is why GetObject/HeadObject with a VersionId needs more.
const versionedRead = "GetObject/HeadObject with a VersionId on the versioned upload bucket is authorised by s3:GetObjectVersion, which iam.go does not list"

// codeRoles is THE table mapping packages to roles. A package that calls AWS
// from more than one place (the worker and the API, say) appears under each
// role with the subset that role runs.
var codeRoles = map[string][]codeGrant{
	// tenantry worker, in ECS.
	"WorkerTaskRole": {
		// Consumes the job and task queues; sends permanent failures, with
		// their reason, to the dead-letter queues. Never creates queues.
		{pkg: "internal/sqssource", actions: sqssource.IAMActions, use: sqssource.RuntimeIAMActions},
		// HEADs and reads uploads, and their tags (document attributes; by
		// VersionId in Step Functions tasks).
		{pkg: "internal/objects", actions: objects.IAMActions, implied: []string{"s3:GetObjectVersionTagging"},
			why: "GetObjectTagging with a VersionId (a Step Functions task's pinned version) is authorised by s3:GetObjectVersionTagging"},
		// Verifies envelopes with public keys fetched from KMS; never signs.
		{pkg: "internal/envelope", actions: envelope.IAMActions, use: []string{"kms:GetPublicKey"}},
		// Answers Step Functions tasks delivered through the task queue;
		// reads uploads, writes and deletes intermediate/ data.
		{pkg: "internal/sfntask", actions: sfntask.IAMActions, implied: []string{"s3:GetObjectVersion"}, why: versionedRead},
		// Embeds chunks with Bedrock when Embedder is bedrock-* (the
		// UseBedrock condition grants InvokeModel on BedrockModelId).
		{pkg: "internal/embed/bedrock", actions: bedrock.IAMActions},
		// Logs in with an RDS IAM token when DatabaseAuth is iam.
		{pkg: "internal/dbauth", actions: dbauth.IAMActions},
	},
	// tenantry lambda: the Express state machine's task function
	// (PipelineType=express). The worker's pipeline duties without the
	// queues: it answers through its return value, never with task tokens.
	"TaskFunctionRole": {
		{pkg: "internal/objects", actions: objects.IAMActions},
		{pkg: "internal/envelope", actions: envelope.IAMActions, use: []string{"kms:GetPublicKey"}},
		{pkg: "internal/sfntask", actions: sfntask.IAMActions, use: []string{"s3:DeleteObject", "s3:GetObject", "s3:PutObject"},
			implied: []string{"s3:GetObjectVersion"}, why: versionedRead},
		{pkg: "internal/embed/bedrock", actions: bedrock.IAMActions},
		{pkg: "internal/dbauth", actions: dbauth.IAMActions},
	},
	// The backend that issues envelopes and presigned uploads and sends jobs.
	"ApiRole": {
		{pkg: "internal/envelope", actions: envelope.IAMActions, use: []string{"kms:Sign"}},
		// Presigned PUTs carry the presigner's permission: s3:PutObject.
		{pkg: "internal/presign", actions: presign.IAMActions},
	},
	// Operators: tenantry dlq and tenantry sfn.
	"OperatorRole": {
		// Inspects (receive, then make visible again), replays (send to the
		// source queue, then delete) and redrives (SQS message-move tasks).
		{pkg: "internal/dlq", actions: dlq.IAMActions},
		// Replays re-verify envelopes.
		{pkg: "internal/envelope", actions: envelope.IAMActions, use: []string{"kms:GetPublicKey"}},
		// tenantry sfn start|redrive|replay: starts (HEADing the object, by
		// version when given), lists, describes and redrives executions; its
		// SQS calls read the Express failure queue, which this Standard stack
		// does not create (the same actions are granted on the DLQs).
		{pkg: "internal/sfnctl", actions: sfnctl.IAMActions, implied: []string{"s3:GetObjectVersion"}, why: versionedRead},
		// tenantry sfn start HEADs the object to build the execution name;
		// it reads no tags.
		{pkg: "internal/objects", actions: objects.IAMActions, use: []string{"s3:GetObject"}},
	},
	// The scheduled tenantry audit anchor task.
	"AnchorTaskRole": {
		// Lists the anchors/ prefix, writes anchors with Object Lock retention.
		{pkg: "internal/anchor", actions: anchor.IAMActions},
		// Reads existing anchors back (through the one S3 reader).
		{pkg: "internal/objects", actions: objects.IAMActions, use: []string{"s3:GetObject"}},
		// Signs anchors with AnchorKey and reads its public key to check them.
		{pkg: "internal/envelope", actions: envelope.IAMActions, use: []string{"kms:Sign", "kms:GetPublicKey"}},
	},
}

// outsideCodeGrants are actions a role needs for calls made outside
// tenantry's Go code (the AWS CLI in a runbook step, the backend's own SDK),
// with the reason.
var outsideCodeGrants = map[string][]struct{ action, why string }{
	"OperatorRole": {{"secretsmanager:GetSecretValue",
		"tenantry dlq replay writes audit rows as the worker role (--database-url): the operator reads that login from DatabaseSecret (docs/operations.md)"}},
	"SupportRole": {{"secretsmanager:GetSecretValue",
		"tenantry support read connects as the support database role: support staff read its login from SupportDatabaseSecret (docs/operations.md)"}},
	"ApiRole": {{"sqs:SendMessage",
		"the backend sends {envelope, job} messages to the job queue with its own SQS client (design: any producer may send jobs)"}},
	"TaskFunctionRole": {
		{"logs:CreateLogStream", "the Lambda service ships the function's logs to its log group"},
		{"logs:PutLogEvents", "the Lambda service ships the function's logs to its log group"},
		{"ec2:CreateNetworkInterface", "the Lambda service manages the function's network interfaces in the VPC (AWS's VPC-access set)"},
		{"ec2:DescribeNetworkInterfaces", "the Lambda service manages the function's network interfaces in the VPC (AWS's VPC-access set)"},
		{"ec2:DeleteNetworkInterface", "the Lambda service manages the function's network interfaces in the VPC (AWS's VPC-access set)"},
		{"ec2:AssignPrivateIpAddresses", "the Lambda service manages the function's network interfaces in the VPC (AWS's VPC-access set)"},
		{"ec2:UnassignPrivateIpAddresses", "the Lambda service manages the function's network interfaces in the VPC (AWS's VPC-access set)"},
		{"xray:PutTraceSegments", "active tracing: the Lambda service sends the function's trace segments"},
		{"xray:PutTelemetryRecords", "active tracing: the Lambda service sends the function's trace segments"},
	},
}

// sseKMSRoles need the stack's DataKey because the bucket and the queues
// are SSE-KMS encrypted: S3 and SQS call KMS on the caller's behalf
// (kms:ViaService). Reading (GetObject, ReceiveMessage) needs kms:Decrypt,
// writing (PutObject, a presigned PUT, SendMessage) kms:GenerateDataKey and,
// for SQS senders, kms:Decrypt.
var sseKMSRoles = map[string]string{
	"WorkerTaskRole":   "reads uploads and the job/task queues, writes intermediate/ objects and dead-letters",
	"ApiRole":          "its presigned PUTs write SSE-KMS objects; it sends jobs to the encrypted job queue",
	"OperatorRole":     "receives from and sends to the encrypted dead-letter and source queues",
	"StateMachineRole": "sends task tokens to the encrypted task queue",
	"TaskFunctionRole": "reads uploads, writes intermediate/ objects",
	// ExpressStateMachineRole records failures in the encrypted failure queue.
	"ExpressStateMachineRole": "records failures in the encrypted Express failure queue",
}

var sseKMSActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}

// platformRoles are roles that AWS services assume, not tenantry code; their
// actions are fixed here with the reason.
var platformRoles = map[string]struct {
	actions []string
	why     string
}{
	"TaskExecutionRole": {
		[]string{"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
			"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"},
		"the ECS agent pulls the image from ECR, injects the database login from the secret and ships the container's logs",
	},
	"MigrateExecutionRole": {
		[]string{"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
			"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"},
		"the ECS agent pulls the image, injects the owner's database login into the one-off migrate task and ships its logs",
	},
	"EventsRole": {
		[]string{"states:StartExecution"},
		"the upload rule starts pipeline executions",
	},
	"AnchorScheduleRole": {
		[]string{"ecs:RunTask", "iam:PassRole"},
		"the anchoring schedule (EventBridge) runs the anchor task definition, passing its task and execution roles to ECS",
	},
	// StateMachineRole: derived from the ASL definition (see stateMachineActions).
}

// stateMachinePlatformActions are what Step Functions needs for execution
// logging to CloudWatch Logs and X-Ray tracing, besides the Task states.
var stateMachinePlatformActions = []string{
	"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
	"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
	"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
}

// wildcardResourceOK lists the identity-policy actions that AWS only
// authorises on Resource "*", per role, with the reason.
var wildcardResourceOK = map[string]map[string]string{
	"OperatorRole": {
		"sqs:ListQueues": "has no resource type: listing is account-wide",
	},
	"TaskExecutionRole": {
		"ecr:GetAuthorizationToken": "has no resource type: the registry token is account-wide",
	},
	"MigrateExecutionRole": {
		"ecr:GetAuthorizationToken": "has no resource type: the registry token is account-wide",
	},
	"TaskFunctionRole": {
		"ec2:CreateNetworkInterface":     "AWS's Lambda VPC-access set: the interfaces do not exist before the call",
		"ec2:DescribeNetworkInterfaces":  "Describe actions have no resource-level permissions",
		"ec2:DeleteNetworkInterface":     "AWS's Lambda VPC-access set: the interfaces are Lambda-managed",
		"ec2:AssignPrivateIpAddresses":   "AWS's Lambda VPC-access set: the interfaces are Lambda-managed",
		"ec2:UnassignPrivateIpAddresses": "AWS's Lambda VPC-access set: the interfaces are Lambda-managed",
		"xray:PutTelemetryRecords":       "X-Ray has no resource-level permissions for these",
		"xray:PutTraceSegments":          "X-Ray has no resource-level permissions for these",
	},
	"StateMachineRole": {
		"logs:CreateLogDelivery":        "CloudWatch Logs vended-log delivery APIs have no resource type",
		"logs:DeleteLogDelivery":        "CloudWatch Logs vended-log delivery APIs have no resource type",
		"logs:GetLogDelivery":           "CloudWatch Logs vended-log delivery APIs have no resource type",
		"logs:ListLogDeliveries":        "CloudWatch Logs vended-log delivery APIs have no resource type",
		"logs:UpdateLogDelivery":        "CloudWatch Logs vended-log delivery APIs have no resource type",
		"logs:PutResourcePolicy":        "Step Functions' documented logging policy; account-level log resource policy",
		"logs:DescribeResourcePolicies": "Step Functions' documented logging policy; account-level listing",
		"logs:DescribeLogGroups":        "Step Functions' documented logging policy; listing has no single resource",
		"xray:GetSamplingRules":         "X-Ray has no resource-level permissions for these",
		"xray:GetSamplingTargets":       "X-Ray has no resource-level permissions for these",
		"xray:PutTelemetryRecords":      "X-Ray has no resource-level permissions for these",
		"xray:PutTraceSegments":         "X-Ray has no resource-level permissions for these",
	},
}

func init() {
	// The Express machine logs and traces as the Standard one does.
	wildcardResourceOK["ExpressStateMachineRole"] = wildcardResourceOK["StateMachineRole"]
}

// apiToIAM maps API operations whose IAM action has another name (per the
// AWS Service Authorization Reference). Packages may declare either.
var apiToIAM = map[string]string{
	"s3:HeadObject":                    "s3:GetObject",
	"s3:ListObjectsV2":                 "s3:ListBucket",
	"s3:HeadBucket":                    "s3:ListBucket",
	"s3:DeleteObjects":                 "s3:DeleteObject",
	"s3:CreateMultipartUpload":         "s3:PutObject",
	"s3:UploadPart":                    "s3:PutObject",
	"s3:CompleteMultipartUpload":       "s3:PutObject",
	"sqs:DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"sqs:SendMessageBatch":             "sqs:SendMessage",
}

var actionName = regexp.MustCompile(`^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$|^rds-db:connect$`) // rds-db:connect is IAM's own lower-case spelling

func normalise(action string) string {
	if a, ok := apiToIAM[action]; ok {
		return a
	}
	return action
}

// expectedRoleActions computes the action set of every role from the tables.
func expectedRoleActions(t reporter, root string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for role, grants := range codeRoles {
		out[role] = map[string]bool{}
		for _, g := range grants {
			for _, a := range g.used() {
				if !actionName.MatchString(a) {
					t.Errorf("%s: %q is not a service:Action name", g.pkg, a)
				}
				if !slices.Contains(g.actions, a) {
					t.Errorf("%s: role %s uses %s, which the package does not declare", g.pkg, role, a)
				}
				out[role][normalise(a)] = true
			}
			for _, a := range g.implied {
				if g.why == "" {
					t.Errorf("%s: implied action %s without a reason", g.pkg, a)
				}
				if slices.Contains(g.actions, a) {
					t.Errorf("%s: %s is now in its iam.go; drop it from implied", g.pkg, a)
				}
				out[role][a] = true
			}
		}
	}
	for role, grants := range outsideCodeGrants {
		if out[role] == nil {
			out[role] = map[string]bool{}
		}
		for _, g := range grants {
			out[role][g.action] = true
		}
	}
	for role, p := range platformRoles {
		out[role] = map[string]bool{}
		for _, a := range p.actions {
			out[role][a] = true
		}
	}
	sm, err := stateMachineActions(root)
	if err != nil {
		t.Errorf("state machine definition: %v", err)
	}
	if sm != nil {
		out["StateMachineRole"] = sm
	}
	express, err := stateMachineActionsOf(root, expressDefinitionPath)
	if err != nil {
		t.Errorf("Express state machine definition: %v", err)
	}
	if express != nil {
		out["ExpressStateMachineRole"] = express
	}
	for role := range sseKMSRoles {
		if out[role] == nil {
			continue // StateMachineRole before its definition exists
		}
		for _, a := range sseKMSActions {
			out[role][a] = true
		}
	}
	return out
}

// TestRoleActionsMatchCode is the least-privilege check: every role's
// identity policies, over every parameter scenario, allow exactly the
// actions its packages declare — no fewer (the call would fail on AWS) and
// no more (privilege nobody uses).
func TestRoleActionsMatchCode(t *testing.T) {
	t.Parallel()
	checkRoleActionsMatchCode(t, loadTemplate(t))
}

func checkRoleActionsMatchCode(t reporter, tpl *cfnTemplate) {
	want := expectedRoleActions(t, tpl.Root)
	scs, err := tpl.scenarios(conditionSamples)
	if err != nil {
		t.Error(err)
		return
	}
	got := map[string]map[string]bool{}
	for _, sc := range scs {
		r, err := tpl.render(sc, nil)
		if err != nil {
			t.Error(err)
			return
		}
		for _, role := range r.resourcesOfType("AWS::IAM::Role") {
			if got[role] == nil {
				got[role] = map[string]bool{}
			}
			for a := range roleActions(r, role) {
				got[role][a] = true
			}
		}
	}
	for role, actions := range got {
		w, ok := want[role]
		if !ok {
			if role == "StateMachineRole" {
				t.Logf("StateMachineRole not compared: statemachine/pipeline.asl.json does not exist yet")
				continue
			}
			t.Errorf("role %s is in no table of iam_test.go: add its packages to codeRoles or it to platformRoles", role)
			continue
		}
		if missing := setDiff(w, actions); len(missing) > 0 {
			t.Errorf("role %s lacks %v, which its code calls", role, missing)
		}
		if extra := setDiff(actions, w); len(extra) > 0 {
			t.Errorf("role %s is allowed %v, which no package it runs declares", role, extra)
		}
	}
	for role := range want {
		if got[role] == nil {
			t.Errorf("role %s is in the tables but not in the template", role)
		}
	}
}

// TestEveryDeclaredActionHasARole makes sure no package's IAMActions entry
// is left out of every role (a new call nobody granted).
func TestEveryDeclaredActionHasARole(t *testing.T) {
	t.Parallel()
	declared := map[string][]string{}
	usedBy := map[string]map[string]bool{}
	for _, grants := range codeRoles {
		for _, g := range grants {
			declared[g.pkg] = g.actions
			if usedBy[g.pkg] == nil {
				usedBy[g.pkg] = map[string]bool{}
			}
			for _, a := range g.used() {
				usedBy[g.pkg][a] = true
			}
		}
	}
	// Setup-only actions that no deployed role needs, with the reason.
	notDeployed := map[string]string{
		"internal/sqssource sqs:CreateQueue":        "EnsureQueues is for the local stack and tests; CloudFormation creates the queues",
		"internal/sqssource sqs:SetQueueAttributes": "EnsureQueues is for the local stack and tests; CloudFormation sets the redrive policy",
	}
	for pkg, actions := range declared {
		for _, a := range actions {
			if !usedBy[pkg][a] && notDeployed[pkg+" "+a] == "" {
				t.Errorf("%s declares %s but no role in codeRoles uses it", pkg, a)
			}
		}
	}
}

// TestCodeRolesCoverEveryIAMFile fails when a package declares IAMActions in
// an iam.go that codeRoles does not import, or when a pending entry's
// package has since gained its iam.go (import it then).
func TestCodeRolesCoverEveryIAMFile(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.Name() != "iam.go" {
			return nil
		}
		ok, err := declaresIAMActions(path)
		if err != nil {
			return err
		}
		if ok {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			found[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, grants := range codeRoles {
		for _, g := range grants {
			if g.pending && found[g.pkg] {
				t.Errorf("%s now has iam.go: import it in iam_test.go instead of the pending action list", g.pkg)
			}
			if !g.pending {
				imported[g.pkg] = true
			}
		}
	}
	for _, pkg := range sortedKeys(found) {
		if !imported[pkg] {
			t.Errorf("%s declares IAMActions but codeRoles in iam_test.go does not map it to a role", pkg)
		}
	}
	var pending []string
	for _, grants := range codeRoles {
		for _, g := range grants {
			if g.pending {
				pending = append(pending, g.pkg)
			}
		}
	}
	sort.Strings(pending)
	if len(pending) > 0 {
		t.Logf("pending packages (no iam.go yet; their expected actions are listed in codeRoles): %v", slices.Compact(pending))
	}
}

func declaresIAMActions(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "var IAMActions") {
			return true, nil
		}
	}
	return false, sc.Err()
}

// TestIAMStatementsAreTight checks every statement: no wildcard actions, no
// NotAction/NotResource allows, Resource "*" only where AWS requires it,
// no anonymous principals, service trust bound to this account.
func TestIAMStatementsAreTight(t *testing.T) {
	t.Parallel()
	checkIAMStatementsAreTight(t, loadTemplate(t))
}

func checkIAMStatementsAreTight(t reporter, tpl *cfnTemplate) {
	for _, id := range tpl.resourcesOfType("AWS::IAM::Role") {
		if _, ok := tpl.props(id)["ManagedPolicyArns"]; ok {
			t.Errorf("role %s attaches managed policies: they grant actions no package declares", id)
		}
	}
	scs, err := tpl.scenarios(conditionSamples)
	if err != nil {
		t.Error(err)
		return
	}
	seen := map[string]bool{}
	var stmts []statement
	for _, sc := range scs {
		r, err := tpl.render(sc, nil)
		if err != nil {
			t.Error(err)
			return
		}
		for _, st := range allStatements(r) {
			key := fmt.Sprintf("%s %v %v %v", st.Where, st.Actions, st.Resources, st.Principal)
			if !seen[key] {
				seen[key] = true
				stmts = append(stmts, st)
			}
		}
	}
	for _, st := range stmts {
		where := st.Where
		if st.Sid != "" {
			where += " (" + st.Sid + ")"
		}
		if st.Effect != "Allow" && st.Effect != "Deny" {
			t.Errorf("%s: Effect %q", where, st.Effect)
		}
		if st.Effect != "Allow" {
			continue // denies may be broad: they only take away
		}
		if st.NotAction || st.NotResource {
			t.Errorf("%s: Allow with NotAction/NotResource grants everything else", where)
		}
		for _, a := range st.Actions {
			if hasWildcard(a) {
				t.Errorf("%s: wildcard action %q", where, a)
			}
		}
		if isWildcardPrincipal(st.Principal) {
			t.Errorf("%s: Allow to every principal", where)
		}
		switch st.Kind {
		case identityPolicy:
			for _, r := range st.Resources {
				s, isString := r.(string)
				if !isString || !hasWildcard(s) {
					continue
				}
				if s != "*" {
					t.Errorf("%s: literal wildcard resource %q: build the ARN from the resource", where, s)
					continue
				}
				for _, a := range st.Actions {
					for _, role := range st.Roles {
						if wildcardResourceOK[role][a] == "" {
							t.Errorf("%s: %s on Resource \"*\" for %s; AWS supports a resource ARN for it", where, a, role)
						}
					}
				}
			}
		case trustPolicy:
			if svc := get(st.Principal, "Service"); svc != nil && get(st.Condition, "StringEquals", "aws:SourceAccount") == nil {
				t.Errorf("%s: service principal %v without an aws:SourceAccount condition (confused deputy)", where, svc)
			}
		case resourcePolicy:
			if st.OwnerType == "AWS::KMS::Key" {
				continue // in a key policy Resource "*" means this key
			}
			for _, r := range st.Resources {
				if r == "*" {
					t.Errorf("%s: Resource \"*\" in a resource policy", where)
				}
			}
			if svc := get(st.Principal, "Service"); svc != nil && st.Condition == nil {
				t.Errorf("%s: service principal %v without a source condition", where, svc)
			}
		}
	}
	// Every Resource "*" exception in the table is still needed.
	for role, actions := range wildcardResourceOK {
		got := map[string]bool{}
		for _, st := range stmts {
			if st.Kind == identityPolicy && slices.Contains(st.Roles, role) {
				for _, a := range st.Actions {
					got[a] = true
				}
			}
		}
		for a := range actions {
			if !got[a] {
				t.Errorf("wildcardResourceOK lists %s for %s, which no longer has it", a, role)
			}
		}
	}
}

// TestWorkerWritesOnlyIntermediateData: the worker may write or delete only
// the pipeline's own intermediate objects, never an upload.
func TestWorkerWritesOnlyIntermediateData(t *testing.T) {
	t.Parallel()
	checkWorkerWritesOnlyIntermediateData(t, loadTemplate(t))
}

func checkWorkerWritesOnlyIntermediateData(t reporter, tpl *cfnTemplate) {
	for _, st := range allStatements(tpl) {
		if st.Kind != identityPolicy || !slices.Contains(st.Roles, "WorkerTaskRole") {
			continue
		}
		writes := slices.ContainsFunc(st.Actions, func(a string) bool {
			return a == "s3:PutObject" || a == "s3:DeleteObject"
		})
		if !writes {
			continue
		}
		for _, r := range st.Resources {
			k, arg, _ := intrinsic(r)
			if s, _ := arg.(string); k != "Fn::Sub" || s != "${UploadBucket.Arn}/intermediate/*" {
				t.Errorf("%s: the worker may write %v; only ${UploadBucket.Arn}/intermediate/* is allowed", st.Where, r)
			}
		}
	}
}

// TestEnvelopeKeyPolicy: the keys are ES256 signing keys; in every scenario
// only the API role may kms:Sign (and only with the keys it signs with), an
// explicit deny stops everyone else, the roles whose code verifies envelopes
// may read public keys and nobody may create grants for itself.
func TestEnvelopeKeyPolicy(t *testing.T) {
	t.Parallel()
	checkEnvelopeKeyPolicy(t, loadTemplate(t))
}

func checkEnvelopeKeyPolicy(t reporter, tpl *cfnTemplate) {
	want := expectedRoleActions(t, tpl.Root)
	// The anchoring task reads only the anchor key's public key; every other
	// role whose code calls kms:GetPublicKey verifies envelopes.
	var readers []string
	for role, actions := range want {
		if actions["kms:GetPublicKey"] && role != "AnchorTaskRole" {
			readers = append(readers, role)
		}
	}
	sort.Strings(readers)
	type keyRule struct {
		slot    string // envelope key slot ("" for the anchor key)
		signer  string
		readers []string
	}
	keys := map[string]keyRule{
		"EnvelopeKeyA": {"A", "ApiRole", readers},
		"EnvelopeKeyB": {"B", "ApiRole", readers},
		// Anchors are signed by the anchoring task only; operators verify them.
		"AnchorKey": {"", "AnchorTaskRole", []string{"AnchorTaskRole", "OperatorRole"}},
	}
	for id := range keys {
		p := tpl.props(id)
		if p == nil {
			t.Errorf("%s missing", id)
			return
		}
		if p["KeySpec"] != "ECC_NIST_P256" || p["KeyUsage"] != "SIGN_VERIFY" {
			t.Errorf("%s: KeySpec %v KeyUsage %v, want ECC_NIST_P256 SIGN_VERIFY", id, p["KeySpec"], p["KeyUsage"])
		}
		if tpl.Resources[id]["DeletionPolicy"] != "Retain" {
			t.Errorf("%s: a removed signing key must be retained (envelopes in flight and in the DLQ, anchors in S3, need it)", id)
		}
	}
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
		for _, st := range allStatements(r) {
			if st.Effect == "Allow" && slices.Contains(st.Actions, "kms:Sign") {
				roles, other := principalRoles(st.Principal)
				if st.Kind == resourcePolicy && (fmt.Sprint(roles) != "["+keys[st.Owner].signer+"]" || len(other) > 0) {
					t.Errorf("%s: %s grants kms:Sign to %v %v", sc, st.Where, roles, other)
				}
				if st.Kind == identityPolicy && fmt.Sprint(st.Roles) != "[ApiRole]" && fmt.Sprint(st.Roles) != "[AnchorTaskRole]" {
					t.Errorf("%s: %s gives kms:Sign to %v", sc, st.Where, st.Roles)
				}
			}
			if st.Effect == "Allow" && st.Kind == resourcePolicy && st.OwnerType != "AWS::KMS::Key" {
				for _, a := range st.Actions {
					if strings.HasPrefix(a, "kms:") {
						t.Errorf("%s: %s grants %s", sc, st.Where, a)
					}
				}
			}
		}
		for id, rule := range keys {
			if r.Resources[id] == nil {
				continue
			}
			signs := rule.slot == "" || strings.Contains(sc.Params["SigningKeys"], rule.slot)
			var signers, pubReaders []string
			var denyOthers, grantGuard bool
			for _, st := range allStatements(r) {
				if st.Owner != id {
					continue
				}
				roles, other := principalRoles(st.Principal)
				switch {
				case st.Effect == "Allow" && slices.Contains(st.Actions, "kms:Sign"):
					signers = append(signers, roles...)
					if get(st.Condition, "StringEquals", "kms:SigningAlgorithm") != "ECDSA_SHA_256" {
						t.Errorf("%s: %s: kms:Sign not restricted to ECDSA_SHA_256", sc, st.Where)
					}
				case st.Effect == "Allow" && slices.Contains(st.Actions, "kms:GetPublicKey"):
					pubReaders = append(pubReaders, roles...)
					if len(other) > 0 {
						t.Errorf("%s: %s: public key readable by %v", sc, st.Where, other)
					}
				case st.Effect == "Deny" && slices.Contains(st.Actions, "kms:Sign"):
					if a, _, _ := intrinsic(get(st.Condition, "ArnNotEquals", "aws:PrincipalArn")); a == "Fn::GetAtt" && isWildcardPrincipal(st.Principal) {
						roles, _ := principalRoles(get(st.Condition, "ArnNotEquals", "aws:PrincipalArn"))
						denyOthers = fmt.Sprint(roles) == "["+rule.signer+"]"
					}
				case st.Effect == "Deny" && slices.Contains(st.Actions, "kms:CreateGrant"):
					grantGuard = true
				case st.Effect == "Allow":
					for _, a := range st.Actions {
						if a == "kms:CreateGrant" || a == "kms:Sign" || hasWildcard(a) {
							t.Errorf("%s: %s: administrators get %s (could delegate signing)", sc, st.Where, a)
						}
					}
				}
			}
			wantSigners := "[]"
			if signs {
				wantSigners = "[" + rule.signer + "]"
			}
			if fmt.Sprint(signers) != wantSigners {
				t.Errorf("%s: %s: kms:Sign allowed to %v, want %s", sc, id, signers, wantSigners)
			}
			sort.Strings(pubReaders)
			var present []string // the readers this scenario creates
			for _, role := range rule.readers {
				if r.Resources[role] != nil {
					present = append(present, role)
				}
			}
			if fmt.Sprint(pubReaders) != fmt.Sprint(present) {
				t.Errorf("%s: %s: public key readers %v, want the roles whose code calls kms:GetPublicKey %v", sc, id, pubReaders, present)
			}
			if !denyOthers {
				t.Errorf("%s: %s: no explicit Deny of kms:Sign to every principal but %s", sc, id, rule.signer)
			}
			if !grantGuard {
				t.Errorf("%s: %s: no Deny of kms:CreateGrant for non-AWS-service use", sc, id)
			}
		}
	}
}
