package image_test

import (
	"fmt"
	"log"

	"github.com/gotransformers/gotransformers/processing/image"
)

// Decoding a file gives Pillow's Image.open(path).convert("RGB") pixels.
func ExampleDecodeFile() {
	img, err := image.DecodeFile("../../parity/testdata/inputs/coffee.jpg", nil)
	if err != nil {
		log.Fatal(err)
	}
	r, g, b := img.At(0, 0)
	fmt.Println(img.Format, img.Mode, img.Width, img.Height, r, g, b)
	// Output: JPEG RGB 210 140 20 13 7
}

// BlipImageProcessor.from_pretrained(folder)(images=..., return_tensors="pt", size=...).
func ExampleBlipImageProcessor_PreprocessFiles() {
	proc, err := image.LoadBlipImageProcessor("../../parity/testdata/real-blip2-opt-2.7b")
	if err != nil {
		log.Fatal(err)
	}
	pix, err := proc.PreprocessFiles([]string{"../../parity/testdata/inputs/cat.png"}, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pix.Shape)
	// call-time overrides, like the Python keyword arguments
	bilinear := image.Bilinear
	pix, err = proc.PreprocessFiles([]string{"../../parity/testdata/inputs/cat.png"},
		&image.Overrides{Size: &image.Size{Height: 32, Width: 48}, Resample: &bilinear}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pix.Shape)
	// Output:
	// [1 3 224 224]
	// [1 3 32 48]
}
