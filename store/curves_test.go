package store

import (
	"reflect"
	"testing"
)

// Curves keeps each metric's order of first appearance, its first and last
// points, and its best: the highest accuracy, the lowest loss.
func TestCurves(t *testing.T) {
	ms := []Metric{
		{Step: 0, Name: "train/loss", Value: 4}, {Step: 0, Name: "eval/L64/accuracy", Value: 0.1},
		{Step: 10, Name: "train/loss", Value: 2}, {Step: 10, Name: "eval/L64/accuracy", Value: 0.7},
		{Step: 20, Name: "train/loss", Value: 2.5}, {Step: 20, Name: "eval/L64/accuracy", Value: 0.6},
	}
	want := []Curve{
		{Name: "train/loss", Points: 3, First: 4, Last: 2.5, Best: 2, FirstStep: 0, LastStep: 20},
		{Name: "eval/L64/accuracy", Points: 3, First: 0.1, Last: 0.6, Best: 0.7, FirstStep: 0, LastStep: 20},
	}
	if got := Curves(ms); !reflect.DeepEqual(got, want) {
		t.Errorf("Curves:\n got %+v\nwant %+v", got, want)
	}
	if got := Curves(nil); len(got) != 0 {
		t.Errorf("Curves(nil) = %+v", got)
	}
}
