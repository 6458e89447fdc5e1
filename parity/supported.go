package parity

// SupportedKinds is the declared set of case kinds whose every case must pass (OK or DIVERGED) in
// `go test ./parity/`. It only grows; it reaches every kind of FORMAT.md when the models and
// generation land.
func SupportedKinds() []string {
	return []string{}
}
