package service_test

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

type (
	sqstypesAttr = types.MessageAttributeValue
	sqstypesName = types.QueueAttributeName
)

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
