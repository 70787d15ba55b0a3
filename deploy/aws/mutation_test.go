package deployaws_test

// The checks must object to broken templates. Each case breaks a copy of the
// real template the way a careless edit or an attacker with commit access
// would, and expects the named check to report it.

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cloneRaw deep-copies a template in JSON form.
func cloneRaw(t *testing.T, raw map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at returns the container holding the last element of path and its key,
// for paths like "Resources/X/Properties/Policies/0/PolicyDocument".
func at(t *testing.T, root any, path string) (any, string) {
	t.Helper()
	parts := strings.Split(path, "/")
	cur := root
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(c) {
				t.Fatalf("path %s: bad index %s", path, p)
			}
			cur = c[i]
		default:
			t.Fatalf("path %s: %s is not a container", path, p)
		}
	}
	return cur, parts[len(parts)-1]
}

func set(t *testing.T, root any, path string, v any) {
	t.Helper()
	c, k := at(t, root, path)
	switch x := c.(type) {
	case map[string]any:
		x[k] = v
	case []any:
		i, _ := strconv.Atoi(k)
		x[i] = v
	default:
		t.Fatalf("path %s: not settable", path)
	}
}

func del(t *testing.T, root any, path string) {
	t.Helper()
	c, k := at(t, root, path)
	m, ok := c.(map[string]any)
	if !ok {
		t.Fatalf("path %s: not a map", path)
	}
	delete(m, k)
}

func appendTo(t *testing.T, root any, path string, v any) {
	t.Helper()
	c, k := at(t, root, path)
	m := c.(map[string]any)
	m[k] = append(asList(m[k]), v)
}

const (
	workerPolicy = "Resources/WorkerTaskRole/Properties/Policies/0/PolicyDocument/Statement"
	keyAPolicy   = "Resources/EnvelopeKeyA/Properties/KeyPolicy/Statement"
)

func TestChecksCatchBrokenTemplates(t *testing.T) {
	t.Parallel()
	base := loadTemplate(t)
	type check func(reporter, *cfnTemplate)
	cases := []struct {
		name   string
		mutate func(t *testing.T, raw map[string]any)
		check  check
		want   string // a substring of one finding
	}{
		{"Ref to a resource that does not exist",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/WorkerTaskDefinition/Properties/ContainerDefinitions/0/Environment/0/Value", map[string]any{"Ref": "JobQueueTypo"})
			}, checkReferencesResolve, `Ref to unknown "JobQueueTypo"`},
		{"Fn::Sub variable that does not exist",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/UploadBucket/Properties/BucketName", map[string]any{"Fn::Sub": "${NamePrefx}-uploads"})
			}, checkReferencesResolve, "${NamePrefx} resolves to nothing"},
		{"Fn::Sub attribute of a missing resource",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Outputs/BucketArn/Value", map[string]any{"Fn::Sub": "${Bucket.Arn}"})
			}, checkReferencesResolve, "${Bucket.Arn} resolves to nothing"},
		{"Fn::GetAtt of a missing resource",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Outputs/BucketArn/Value", map[string]any{"Fn::GetAtt": []any{"Bucket", "Arn"}})
			}, checkReferencesResolve, "Fn::GetAtt of unknown resource"},
		{"Fn::If on a missing condition",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Outputs/BucketArn/Value", map[string]any{"Fn::If": []any{"NoSuchCondition", "a", "b"}})
			}, checkReferencesResolve, `unknown condition "NoSuchCondition"`},
		{"Fn::FindInMap key a parameter value lacks",
			func(t *testing.T, r map[string]any) { del(t, r, "Mappings/TaskSizes/xlarge") },
			checkReferencesResolve, `has no key "xlarge"`},
		{"resource in a condition referring to a resource",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Conditions/UseBedrock", map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "JobQueue"}, "x"}})
			}, checkReferencesResolve, "where only parameters may be used"},
		{"DependsOn a missing resource",
			func(t *testing.T, r map[string]any) { set(t, r, "Resources/UploadBucket/DependsOn", "QueuePolicyTypo") },
			checkReferencesResolve, "DependsOn unknown"},
		{"unused parameter",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Parameters/Unused", map[string]any{"Type": "String", "AllowedValues": []any{"x"}, "Default": "x", "Description": "d"})
			}, checkEverythingDeclaredIsUsed, "parameter Unused is never used"},
		{"unused condition",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Conditions/Never", map[string]any{"Fn::Equals": []any{"a", "b"}})
			}, checkEverythingDeclaredIsUsed, "condition Never is never used"},
		{"unconstrained string parameter",
			func(t *testing.T, r map[string]any) { del(t, r, "Parameters/NamePrefix/AllowedPattern") },
			checkParametersHaveTypesAndConstraints, "NamePrefix: a String needs AllowedValues or AllowedPattern"},
		{"number parameter without bounds",
			func(t *testing.T, r map[string]any) { del(t, r, "Parameters/MaxTasks/MaxValue") },
			checkParametersHaveTypesAndConstraints, "MaxTasks: a Number needs"},
		{"parameter without type",
			func(t *testing.T, r map[string]any) { del(t, r, "Parameters/ImageTag/Type") },
			checkParametersHaveTypesAndConstraints, "ImageTag: Type"},
		{"default outside its own constraint",
			func(t *testing.T, r map[string]any) { set(t, r, "Parameters/NamePrefix/Default", "Not_Valid") },
			checkParametersHaveTypesAndConstraints, `value "Not_Valid"`},
		{"a reference to a resource another scenario does not create",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Outputs/TrustedKeyArns/Value", map[string]any{"Fn::GetAtt": []any{"EnvelopeKeyB", "Arn"}})
			}, checkEveryScenarioRenders, "Fn::GetAtt of unknown resource \"EnvelopeKeyB\""},
		{"rules removed: sign with a key workers do not trust",
			func(t *testing.T, r map[string]any) { delete(r, "Rules") },
			checkEveryScenarioRenders, "the Rules accept signing with key B"},
		{"worker may sign envelopes",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/WorkerEnvelopeKeyPolicy/Properties/PolicyDocument/Statement/0/Action", []any{"kms:GetPublicKey", "kms:Sign"})
			}, checkRoleActionsMatchCode, "role WorkerTaskRole is allowed [kms:Sign]"},
		{"worker may sign envelopes (key policy view)",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/WorkerEnvelopeKeyPolicy/Properties/PolicyDocument/Statement/0/Action", []any{"kms:GetPublicKey", "kms:Sign"})
			}, checkEnvelopeKeyPolicy, "gives kms:Sign to [WorkerTaskRole]"},
		{"worker loses an action its code calls",
			func(t *testing.T, r map[string]any) {
				set(t, r, workerPolicy+"/0/Action", []any{"sqs:ReceiveMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"})
			}, checkRoleActionsMatchCode, "role WorkerTaskRole lacks [sqs:DeleteMessage]"},
		{"an unused action slips into a role",
			func(t *testing.T, r map[string]any) {
				set(t, r, workerPolicy+"/2/Action", []any{"s3:GetObject", "s3:GetObjectAcl"})
			}, checkRoleActionsMatchCode, "allowed [s3:GetObjectAcl]"},
		{"worker may overwrite uploads",
			func(t *testing.T, r map[string]any) {
				set(t, r, workerPolicy+"/3/Resource", map[string]any{"Fn::Sub": "${UploadBucket.Arn}/*"})
			}, checkWorkerWritesOnlyIntermediateData, "only ${UploadBucket.Arn}/intermediate/* is allowed"},
		{"state machine renamed without its trust policy",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/PipelineStateMachine/Properties/StateMachineName", map[string]any{"Fn::Sub": "${NamePrefix}-ingest"})
			}, checkConstructedARNsMatchNames, "StateMachineRole trust source ARN"},
		{"log group outside the logs key condition",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/WorkerLogGroup/Properties/LogGroupName", map[string]any{"Fn::Sub": "/ecs/${NamePrefix}"})
			}, checkConstructedARNsMatchNames, "outside the LogsKey condition"},
		{"wildcard action",
			func(t *testing.T, r map[string]any) { set(t, r, workerPolicy+"/2/Action", "s3:*") },
			checkIAMStatementsAreTight, `wildcard action "s3:*"`},
		{"Resource * where an ARN is possible",
			func(t *testing.T, r map[string]any) { set(t, r, workerPolicy+"/2/Resource", "*") },
			checkIAMStatementsAreTight, `s3:GetObject on Resource "*" for WorkerTaskRole`},
		{"NotAction allow",
			func(t *testing.T, r map[string]any) {
				st, k := at(t, r, workerPolicy+"/2/Action")
				m := st.(map[string]any)
				m["NotAction"] = m[k]
				delete(m, k)
			}, checkIAMStatementsAreTight, "Allow with NotAction"},
		{"queue open to everyone",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/JobQueuePolicy/Properties/PolicyDocument/Statement/0/Principal", "*")
			}, checkIAMStatementsAreTight, "Allow to every principal"},
		{"service trust without source account",
			func(t *testing.T, r map[string]any) {
				del(t, r, "Resources/WorkerTaskRole/Properties/AssumeRolePolicyDocument/Statement/0/Condition")
			}, checkIAMStatementsAreTight, "confused deputy"},
		{"managed policy attached",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/WorkerTaskRole/Properties/ManagedPolicyArns", []any{"arn:aws:iam::aws:policy/AmazonS3FullAccess"})
			}, checkIAMStatementsAreTight, "attaches managed policies"},
		{"key administrators may create grants",
			func(t *testing.T, r map[string]any) {
				appendTo(t, r, keyAPolicy+"/0/Action", "kms:CreateGrant")
			}, checkEnvelopeKeyPolicy, "administrators get kms:CreateGrant"},
		{"key policy lets the worker sign",
			func(t *testing.T, r map[string]any) {
				set(t, r, keyAPolicy+"/1/Fn::If/1/Principal/AWS", map[string]any{"Fn::GetAtt": []any{"WorkerTaskRole", "Arn"}})
			}, checkEnvelopeKeyPolicy, "grants kms:Sign to [WorkerTaskRole]"},
		{"explicit deny of signing removed",
			func(t *testing.T, r map[string]any) {
				st, _ := at(t, r, keyAPolicy+"/0")
				list := st.([]any)
				set(t, r, keyAPolicy, append(list[:2:2], list[3:]...))
			}, checkEnvelopeKeyPolicy, "no explicit Deny of kms:Sign"},
		{"symmetric key instead of a signing key",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/EnvelopeKeyA/Properties/KeySpec", "SYMMETRIC_DEFAULT")
			},
			checkEnvelopeKeyPolicy, "want ECC_NIST_P256 SIGN_VERIFY"},
		{"public bucket",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/UploadBucket/Properties/PublicAccessBlockConfiguration/RestrictPublicBuckets", false)
			}, checkBucket, "RestrictPublicBuckets must be true"},
		{"bucket policy without TLS deny",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/UploadBucketPolicy/Properties/PolicyDocument/Statement/0/Effect", "Allow")
			}, checkBucket, "does not deny requests without TLS"},
		{"queue without dead-letter queue",
			func(t *testing.T, r map[string]any) { del(t, r, "Resources/TaskQueue/Properties/RedrivePolicy") },
			checkQueues, "TaskQueue: RedrivePolicy.deadLetterTargetArn"},
		{"unencrypted queue",
			func(t *testing.T, r map[string]any) {
				del(t, r, "Resources/TaskDeadLetterQueue/Properties/KmsMasterKeyId")
			},
			checkQueues, "TaskDeadLetterQueue is not encrypted at rest"},
		{"worker runs as root",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/WorkerTaskDefinition/Properties/ContainerDefinitions/0/User", "0")
			}, checkWorkerService, "want a non-root uid"},
		{"workers with public IPs",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/WorkerService/Properties/NetworkConfiguration/AwsvpcConfiguration/AssignPublicIp", "ENABLED")
			}, checkWorkerService, "must not get public IPs"},
		{"DLQ alarm removed",
			func(t *testing.T, r map[string]any) { del(t, r, "Resources/JobDeadLetterNotEmptyAlarm") },
			checkAlarms, "no alarm on ApproximateNumberOfMessagesVisible of JobDeadLetterQueue"},
		{"password in plain text",
			func(t *testing.T, r map[string]any) {
				appendTo(t, r, "Resources/WorkerTaskDefinition/Properties/ContainerDefinitions/0/Environment",
					map[string]any{"Name": "TENANTRY_DATABASE_PASSWORD", "Value": "hunter2"})
			}, checkNoSecretsInTemplate, "TENANTRY_DATABASE_PASSWORD looks like a secret"},
		{"bucket back to SSE-S3",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/UploadBucket/Properties/BucketEncryption/ServerSideEncryptionConfiguration/0/ServerSideEncryptionByDefault/SSEAlgorithm", "AES256")
			}, checkDataEncryption, "UploadBucket: want SSE-KMS"},
		{"alarm topic without the stack key",
			func(t *testing.T, r map[string]any) { del(t, r, "Resources/AlarmTopic/Properties/KmsMasterKeyId") },
			checkDataEncryption, "AlarmTopic is not encrypted with DataKey"},
		{"data key usable outside S3 and SQS",
			func(t *testing.T, r map[string]any) {
				del(t, r, "Resources/DataKey/Properties/KeyPolicy/Statement/1/Condition")
			}, checkDataEncryption, "only through S3 and SQS"},
		{"data key usable by every principal of the account",
			func(t *testing.T, r map[string]any) {
				appendTo(t, r, "Resources/DataKey/Properties/KeyPolicy/Statement/0/Action", "kms:Decrypt")
			}, checkDataEncryption, "the account root may use the key"},
		{"services may use the data key for any account",
			func(t *testing.T, r map[string]any) {
				del(t, r, "Resources/DataKey/Properties/KeyPolicy/Statement/2/Condition")
			}, checkDataEncryption, "confused deputy"},
		{"transform added",
			func(t *testing.T, r map[string]any) { r["Transform"] = "AWS::Serverless-2016-10-31" },
			checkTemplateSections, "no Transform"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := cloneRaw(t, base.Raw)
			tc.mutate(t, raw)
			broken, err := fromRaw(raw)
			if err != nil {
				t.Fatal(err)
			}
			broken.Root = base.Root
			var f findings
			tc.check(&f, broken)
			for _, m := range f.msgs {
				if strings.Contains(m, tc.want) {
					return
				}
			}
			t.Errorf("no finding contains %q; findings: %q", tc.want, f.msgs)
		})
	}
	// The unbroken template passes every check used above.
	for _, c := range []check{checkReferencesResolve, checkEverythingDeclaredIsUsed, checkParametersHaveTypesAndConstraints,
		checkEveryScenarioRenders, checkRoleActionsMatchCode, checkIAMStatementsAreTight, checkEnvelopeKeyPolicy,
		checkBucket, checkQueues, checkWorkerService, checkAlarms, checkNoSecretsInTemplate, checkTemplateSections,
		checkWorkerWritesOnlyIntermediateData, checkConstructedARNsMatchNames, checkDataEncryption} {
		var f findings
		c(&f, base)
		if len(f.msgs) > 0 {
			t.Errorf("the real template fails a check: %q", f.msgs)
		}
	}
}

// TestValidatorsCatchBrokenTemplates: the third-party validators object to
// mistakes the hand-written checks cannot see.
func TestValidatorsCatchBrokenTemplates(t *testing.T) {
	t.Parallel()
	modules := validatorModules(t)
	db, err := loadSpec(modules)
	if err != nil {
		t.Fatal(err)
	}
	guard := guardBinary(t, modules)
	rulesDir := filepath.Join(modules, guardPackage, "rules", "control-tower", "cfn-guard")
	base := loadTemplate(t)
	specCheck := func(r reporter, tpl *cfnTemplate) { checkSpec(r, db, tpl) }
	guardCheck := func(dir string) func(r reporter, tpl *cfnTemplate) {
		return func(r reporter, tpl *cfnTemplate) { checkGuard(r, guard, rulesDir, tpl, dir) }
	}
	cases := []struct {
		name   string
		mutate func(t *testing.T, raw map[string]any)
		guard  bool
		want   string
	}{
		{"enumerated value misspelt",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/UploadBucket/Properties/OwnershipControls/Rules/0/ObjectOwnership", "BucketEnforced")
			}, false, `"BucketEnforced" is not one of`},
		{"property name misspelt",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/JobQueue/Properties/VisibilityTimout", 30.0)
			}, false, `has no property "VisibilityTimout"`},
		{"nested property name misspelt",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/PipelineStateMachine/Properties/LoggingConfiguration/Levels", "ALL")
			}, false, `LoggingConfiguration has no property "Levels"`},
		{"attribute that does not exist",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Outputs/WorkerServiceName/Value", map[string]any{"Fn::GetAtt": []any{"WorkerService", "Arn"}})
			}, false, "has no attribute Arn"},
		{"required property missing",
			func(t *testing.T, r map[string]any) { del(t, r, "Resources/PipelineStateMachine/Properties/RoleArn") },
			false, "required property RoleArn missing"},
		{"resource type that does not exist",
			func(t *testing.T, r map[string]any) { set(t, r, "Resources/TaskQueue/Type", "AWS::SQS::Queues") },
			false, "AWS::SQS::Queues is not in the AWS specification"},
		{"a list where an object belongs",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/PipelineStateMachine/Properties/TracingConfiguration", []any{true})
			}, false, "want an object"},
		{"queue not encrypted (Control Tower SQS.PR.2)",
			func(t *testing.T, r map[string]any) {
				del(t, r, "Resources/TaskQueue/Properties/KmsMasterKeyId")
			},
			true, "TaskQueue fails CT.SQS.PR.2"},
		{"tracing off (Control Tower STEPFUNCTIONS.PR.2)",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/PipelineStateMachine/Properties/TracingConfiguration/Enabled", false)
			}, true, "PipelineStateMachine fails CT.STEPFUNCTIONS.PR.2"},
		{"undeclared exception",
			func(t *testing.T, r map[string]any) {
				list := asList(get(r, "Resources", "UploadBucket", "Metadata", "GuardExceptions"))
				set(t, r, "Resources/UploadBucket/Metadata/GuardExceptions", list[:1])
			}, true, "UploadBucket fails CT.S3.PR."},
		{"stale exception",
			func(t *testing.T, r map[string]any) {
				set(t, r, "Resources/JobQueue/Metadata", map[string]any{"GuardExceptions": []any{
					map[string]any{"Rule": "CT.SQS.PR.1", "Reason": "pretend the job queue had no dead-letter queue"},
				}})
			}, true, "JobQueue declares a guard exception for CT.SQS.PR.1, which it no longer fails"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := cloneRaw(t, base.Raw)
			tc.mutate(t, raw)
			broken, err := fromRaw(raw)
			if err != nil {
				t.Fatal(err)
			}
			broken.Root = base.Root
			var f findings
			if tc.guard {
				guardCheck(t.TempDir())(&f, broken)
			} else {
				specCheck(&f, broken)
			}
			for _, m := range f.msgs {
				if strings.Contains(m, tc.want) {
					return
				}
			}
			t.Errorf("no finding contains %q; findings: %q", tc.want, f.msgs)
		})
	}
}
