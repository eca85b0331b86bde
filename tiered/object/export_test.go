package object

// Exported for the golden tests in package object_test, which cannot be internal tests
// because the fixture loader (tiered/backendtest/golden) imports this package.
var (
	ParseHumanDuration  = parseHumanDuration
	FormatHumanDuration = formatHumanDuration
)
