package retrieval

// EFFor exposes efFor to the tests.
var EFFor = efFor
