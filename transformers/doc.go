// Package transformers is the plumbing shared by every model of this module, as transformers'
// configuration_utils.py and from_pretrained plumbing: PretrainedConfig (the attributes common to
// every config), JSON load over defaults that keeps unknown keys, ToDict / to_diff_dict rules and
// ToJSONString byte-identical to Python's json.dumps(indent=2, sort_keys=True), atomic SaveJSON,
// LoadOptions with functional Options, and ResolveModelDir (local folder or hub repo id).
// It must not import models/... (model packages import it); subpackages hold the compute core
// (tensor, nn, weights) and generation.
package transformers
