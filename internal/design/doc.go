// Package design holds the test that keeps the import graph to the floors
// docs/DESIGN.md draws: a package imports only packages on lower floors.
package design
