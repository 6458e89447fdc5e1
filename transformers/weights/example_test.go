package weights_test

import (
	"fmt"

	"github.com/gotransformers/gotransformers/transformers/tensor"
	"github.com/gotransformers/gotransformers/transformers/weights"
)

// A module tree asks for its weights by prefix; Keys lists them in order, Finish reports what did
// not match. With a state dict from LoadStateDict the same code binds real weights.
func ExampleBinder() {
	sd := weights.NewStateDict(map[string]*tensor.Weight{
		"shared.weight":                {Shape: []int{10, 4}, F32: make([]float32, 40)},
		"encoder.layers.0.fc.weight":   {Shape: []int{8, 4}, F32: make([]float32, 32)},
		"encoder.layers.1.fc.weight":   {Shape: []int{8, 5}, F32: make([]float32, 40)},
		"encoder.layers.1.fc.bias_old": {Shape: []int{8}, F32: make([]float32, 8)},
	})
	b := weights.NewBinder(sd)
	emb := b.Pp("shared").Weight("weight", 10, 4)
	for i := 0; i < 2; i++ {
		b.Pp("encoder").Pp("layers").Pp(i).Pp("fc").Weight("weight", 8, 4)
	}
	b.Tied("lm_head.weight", emb)
	for _, k := range b.Keys() {
		fmt.Printf("%s %v loaded=%v tied=%q\n", k.Name, k.Shape, k.Loaded, k.TiedTo)
	}
	fmt.Println(b.Finish())
	// Output:
	// shared.weight [10 4] loaded=true tied=""
	// encoder.layers.0.fc.weight [8 4] loaded=true tied=""
	// encoder.layers.1.fc.weight [8 4] loaded=false tied=""
	// lm_head.weight [10 4] loaded=false tied="shared.weight"
	// weights: state dict does not match the model: 0 missing, 1 unexpected, 1 mis-shaped keys
	//   unexpected: encoder.layers.1.fc.bias_old (in memory)
	//   mis-shaped: encoder.layers.1.fc.weight: model wants [8 4], memory has [8 5]
}
