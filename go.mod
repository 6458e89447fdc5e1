module github.com/gotransformers/gotransformers

go 1.26

require github.com/stretchr/testify v1.10.0 // indirect
