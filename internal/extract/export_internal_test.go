package extract

// SetReference makes e extract as before page furniture and PDF running
// headers were removed (the fidelity baseline).
func (e *Extractor) setReference(on bool) { e.reference = on }
