package envelope

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
var IAMActions = []string{"kms:GetPublicKey", "kms:Sign"}
