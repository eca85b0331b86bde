//go:build race

package tiered

// raceEnabled scales the simulator down under the race detector, which slows it tenfold.
const raceEnabled = true
