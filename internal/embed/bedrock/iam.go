package bedrock

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
var IAMActions = []string{"bedrock:InvokeModel"}
