// Package telemetry holds what a metrics exporter needs from a larder
// Cache: the [Event] a Cache hands its [Recorder] for every operation, and
// the enums that label it ([Tier], [Op], [Outcome]), each dense from zero
// so that an exporter can pre-build one series per value.
//
// An application passes a Recorder (prommetrics.NewRecorder, or its own)
// in larder.Options; it reads the same counts as a snapshot through
// Cache.Stats without this package.
package telemetry
