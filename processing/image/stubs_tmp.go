package image

func decodeVP8(data []byte, opts *Options) (*Image, error) { return nil, ErrUnsupported }
