package deployaws_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// mentions reports whether a property value (a Ref, GetAtt or Sub of it)
// names the resource id.
func mentions(v any, id string) bool {
	switch x := v.(type) {
	case string:
		return x == id || strings.HasPrefix(x, id+".") || strings.Contains(x, "${"+id+"}") || strings.Contains(x, "${"+id+".")
	case map[string]any:
		for _, c := range x {
			if mentions(c, id) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if mentions(c, id) {
				return true
			}
		}
	}
	return false
}

// TestDataAtRestUsesTheStackKey: uploads, queues and the alarm topic are
// SSE-KMS encrypted with DataKey, and DataKey's policy lets only this
// stack's roles use it, only through S3 and SQS, and AWS services only for
// this account.
func TestDataAtRestUsesTheStackKey(t *testing.T) {
	t.Parallel()
	checkDataEncryption(t, loadTemplate(t))
}

func checkDataEncryption(t reporter, tpl *cfnTemplate) {
	sse := asList(get(tpl.props("UploadBucket"), "BucketEncryption", "ServerSideEncryptionConfiguration"))
	if len(sse) != 1 || get(sse[0], "ServerSideEncryptionByDefault", "SSEAlgorithm") != "aws:kms" ||
		!mentions(get(sse[0], "ServerSideEncryptionByDefault", "KMSMasterKeyID"), "DataKey") || get(sse[0], "BucketKeyEnabled") != true {
		t.Errorf("UploadBucket: want SSE-KMS with DataKey and a bucket key, have %v", sse)
	}
	for _, typ := range []string{"AWS::SQS::Queue", "AWS::SNS::Topic"} {
		ids := tpl.resourcesOfType(typ)
		if len(ids) == 0 {
			t.Errorf("no %s", typ)
		}
		for _, id := range ids {
			if !mentions(get(tpl.props(id), "KmsMasterKeyId"), "DataKey") {
				t.Errorf("%s is not encrypted with DataKey", id)
			}
		}
	}
	key := tpl.props("DataKey")
	if get(key, "EnableKeyRotation") != true {
		t.Error("DataKey: key rotation is off")
	}
	var roles []string
	for _, st := range asList(get(key, "KeyPolicy", "Statement")) {
		if get(st, "Effect") != "Allow" {
			continue
		}
		actions := asList(get(st, "Action"))
		for _, a := range actions {
			if s := fmt.Sprint(a); s == "*" || s == "kms:*" || (strings.HasPrefix(s, "kms:Encrypt") && get(st, "Sid") != "KeyAdministration") {
				t.Errorf("DataKey %v allows %s", get(st, "Sid"), s)
			}
		}
		usesData := slices.ContainsFunc(actions, func(a any) bool { return a == "kms:Decrypt" || a == "kms:GenerateDataKey" })
		if get(st, "Sid") == "KeyAdministration" && usesData {
			t.Error("DataKey: the account root may use the key directly (every IAM principal could)")
		}
		if !usesData {
			continue
		}
		switch {
		case get(st, "Principal", "AWS") != nil:
			for _, p := range asList(get(st, "Principal", "AWS")) {
				for role := range sseKMSRoles {
					if mentions(p, role) {
						roles = append(roles, role)
					}
				}
			}
			via := fmt.Sprint(get(st, "Condition", "StringEquals", "kms:ViaService"))
			if !strings.Contains(via, "s3.") || !strings.Contains(via, "sqs.") || len(asList(get(st, "Condition", "StringEquals", "kms:ViaService"))) != 2 {
				t.Errorf("DataKey %v: roles must use it only through S3 and SQS (kms:ViaService), have %v", get(st, "Sid"), via)
			}
		case get(st, "Principal", "Service") != nil:
			if !mentions(get(st, "Condition", "StringEquals", "aws:SourceAccount"), "AWS::AccountId") {
				t.Errorf("DataKey %v: AWS services without an aws:SourceAccount condition (confused deputy)", get(st, "Sid"))
			}
		default:
			t.Errorf("DataKey %v: allows use to %v", get(st, "Sid"), get(st, "Principal"))
		}
	}
	sort.Strings(roles)
	want := make([]string, 0, len(sseKMSRoles))
	for r := range sseKMSRoles {
		want = append(want, r)
	}
	sort.Strings(want)
	if !slices.Equal(roles, want) {
		t.Errorf("DataKey's policy lets roles %v use it; the roles that need it are %v (sseKMSRoles)", roles, want)
	}
}
