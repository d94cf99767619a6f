module github.com/exportd/exportd/deploy

go 1.26.8

require github.com/exportd/exportd v0.0.0

require (
	github.com/blang/semver/v4 v4.0.0 // indirect
	github.com/moby/buildkit v0.35.0 // indirect
	github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring v0.95.2 // indirect
	k8s.io/api v0.37.2 // indirect
	k8s.io/apimachinery v0.37.2 // indirect
	sigs.k8s.io/kustomize/api v0.21.2 // indirect
	sigs.k8s.io/kustomize/kyaml v0.21.2 // indirect
)

// The deploy checks test the product of this repository.
replace github.com/exportd/exportd => ../
