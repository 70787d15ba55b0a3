package envelope

// SubjectS3Removal is the actor of scopes minted by VerifyRemoval.
const SubjectS3Removal = "s3:ObjectRemoved"

// VerifyRemoval mints the scope for an S3 ObjectRemoved event. Such an event
// has no envelope to verify (the object and its metadata are gone), so the
// authority is S3 itself: the caller MUST have confirmed with HeadObject that
// the object no longer exists, and MUST only delete the document whose stored
// source URI is exactly s3://bucket/key (a document that an envelope verified
// at ingest). The key must be canonical (ParseObjectKey); its first segment selects the tenant; a forged
// removal event can therefore only make tenantry agree with what S3 already
// says: that the object is gone.
func VerifyRemoval(bucket, key, messageID string) (Verified, error) {
	if bucket == "" {
		return Verified{}, reject(ReasonBindingMismatch, "object has no bucket")
	}
	k, err := ParseObjectKey(key)
	if err != nil {
		return Verified{}, err
	}
	v := &Verifier{}
	return v.mint(Claims{TenantID: k.Tenant, Subject: SubjectS3Removal, Action: ActionDelete,
		Resource: ObjectResource(bucket, key), ID: messageID})
}
