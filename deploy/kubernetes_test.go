package deploy_test

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// manifests are the objects `kubectl apply -k deploy/kubernetes` creates,
// decoded strictly into their API types.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	account    *corev1.ServiceAccount
	pdb        *policyv1.PodDisruptionBudget
	netpol     *networkingv1.NetworkPolicy
	monitor    *monitoringv1.ServiceMonitor
	configMaps map[string]*corev1.ConfigMap
	all        []runtime.Object
}

func strictDecoder(t testing.TB) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
}

func buildKustomization(t *testing.T) *manifests {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "kubernetes")
	if err != nil {
		t.Fatalf("kustomize build deploy/kubernetes: %v", err)
	}
	dec := strictDecoder(t)
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
	for _, r := range resMap.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := dec.Decode(y, nil, nil)
		if err != nil {
			t.Fatalf("%s %s: %v", r.GetKind(), r.GetName(), err)
		}
		m.all = append(m.all, obj)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployment = o
		case *corev1.Service:
			m.service = o
		case *corev1.ServiceAccount:
			m.account = o
		case *policyv1.PodDisruptionBudget:
			m.pdb = o
		case *networkingv1.NetworkPolicy:
			m.netpol = o
		case *monitoringv1.ServiceMonitor:
			m.monitor = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		default:
			t.Errorf("unexpected %T %s", obj, r.GetName())
		}
	}
	if m.deployment == nil || m.service == nil || m.account == nil || m.pdb == nil || m.netpol == nil || m.monitor == nil || len(m.configMaps) != 2 {
		t.Fatalf("want a Deployment, Service, ServiceAccount, PodDisruptionBudget, NetworkPolicy, ServiceMonitor and two ConfigMaps; got %d objects", len(m.all))
	}
	return m
}

// TestKubernetesStrictDecoding: the strict decoder the manifests pass
// refuses an unknown field (a misspelt key would otherwise be dropped).
func TestKubernetesStrictDecoding(t *testing.T) {
	data, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(data, []byte("  replicas: 2"), []byte("  replica: 2"), 1)
	if _, _, err := strictDecoder(t).Decode(bad, nil, nil); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("a Deployment with an unknown field decoded: %v", err)
	}
	if _, _, err := strictDecoder(t).Decode(data, nil, nil); err != nil {
		t.Fatalf("deployment.yaml: %v", err)
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := buildKustomization(t)
	cfg := prodConfig(t)
	df := parseDockerfile(t)
	img := df.runtime(t)
	d := m.deployment
	pod := d.Spec.Template.Spec

	// One namespace, one name.
	for _, o := range m.all {
		meta := o.(interface {
			GetNamespace() string
			GetLabels() map[string]string
		})
		if meta.GetNamespace() != "exportd" {
			t.Errorf("%T in namespace %q, want exportd", o, meta.GetNamespace())
		}
		if meta.GetLabels()["app.kubernetes.io/name"] != "exportd" {
			t.Errorf("%T without label app.kubernetes.io/name=exportd", o)
		}
	}

	// Selectors: the Deployment's selects its pods, and the Service, PDB,
	// NetworkPolicy select those pods; the ServiceMonitor selects the Service.
	podLabels := labels.Set(d.Spec.Template.Labels)
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
		t.Fatal("Deployment has no selector")
	}
	for what, sel := range map[string]map[string]string{
		"Deployment.spec.selector":       d.Spec.Selector.MatchLabels,
		"Service.spec.selector":          m.service.Spec.Selector,
		"PodDisruptionBudget selector":   m.pdb.Spec.Selector.MatchLabels,
		"NetworkPolicy.spec.podSelector": m.netpol.Spec.PodSelector.MatchLabels,
	} {
		if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(podLabels) {
			t.Errorf("%s %v does not select the pods %v", what, sel, podLabels)
		}
	}
	if !labels.SelectorFromSet(m.monitor.Spec.Selector.MatchLabels).Matches(labels.Set(m.service.Labels)) || len(m.monitor.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("ServiceMonitor selector %v does not select the Service %v", m.monitor.Spec.Selector.MatchLabels, m.service.Labels)
	}

	// Two replicas (safe: windows are claimed in the archive), a budget
	// that keeps one.
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if m.pdb.Spec.MinAvailable == nil || m.pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", m.pdb.Spec.MinAvailable)
	}

	// The IRSA service account.
	if pod.ServiceAccountName != m.account.Name || !strings.HasPrefix(m.account.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::") {
		t.Errorf("pod service account %q; ServiceAccount %s annotations %v: want the IRSA role-arn annotation", pod.ServiceAccountName, m.account.Name, m.account.Annotations)
	}

	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The image's entrypoint runs; args are its CMD.
	if len(c.Command) != 0 || !slices.Equal(c.Args, img.cmd) {
		t.Errorf("command %q args %q: want the image's ENTRYPOINT and args %q (its CMD)", c.Command, c.Args, img.cmd)
	}
	configPath := c.Args[len(c.Args)-1]

	// Ports: the container's is the config's listen port; the Service,
	// the ServiceMonitor, the probes and the NetworkPolicy use it by name.
	_, listenPort, _ := net.SplitHostPort(cfg.Server.Listen)
	if host, _, _ := net.SplitHostPort(cfg.Server.Listen); host != "0.0.0.0" && host != "" {
		t.Errorf("server.listen %s: a pod must listen on all interfaces", cfg.Server.Listen)
	}
	if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != listenPort {
		t.Fatalf("container ports %v, want one: %s (server.listen)", c.Ports, listenPort)
	}
	portName := c.Ports[0].Name
	if img.expose[0] != listenPort {
		t.Errorf("image EXPOSE %v, container port %s", img.expose, listenPort)
	}
	if len(m.service.Spec.Ports) != 1 || m.service.Spec.Ports[0].TargetPort != intstr.FromString(portName) {
		t.Errorf("Service ports %v: want one targeting %q", m.service.Spec.Ports, portName)
	}
	svcPortName := m.service.Spec.Ports[0].Name
	if len(m.monitor.Spec.Endpoints) != 1 || m.monitor.Spec.Endpoints[0].Port != svcPortName || m.monitor.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v: want port %q path /metrics", m.monitor.Spec.Endpoints, svcPortName)
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port != intstr.FromString(portName) {
			t.Errorf("%s probe %+v: want GET %s on port %q", name, p, want, portName)
		}
	}

	// Security context: non-root (the image's user), read-only root, no
	// capabilities, no privilege escalation, seccomp RuntimeDefault.
	uid, _ := ids(t, img.user)
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("no securityContext")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || int(*psc.RunAsUser) != uid {
		t.Errorf("pod runAsNonRoot %v runAsUser %v, want true and %d (the image's USER)", psc.RunAsNonRoot, psc.RunAsUser, uid)
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %v, want RuntimeDefault", psc.SeccompProfile)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, drop ALL", sc)
	}

	// Graceful termination outlasts shutdown_timeout.
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= time.Duration(cfg.Server.ShutdownTimeout) {
		t.Errorf("terminationGracePeriodSeconds %v: want more than server.shutdown_timeout %v", g, time.Duration(cfg.Server.ShutdownTimeout))
	}

	// Resources requested.
	if c.Resources.Requests.Memory().Cmp(resource.MustParse("128Mi")) < 0 || c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}

	// Volumes: the config at --config, the schedules at schedules_dir, the
	// state at state_dir; mounted keys are the files.
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
		if _, ok := mounts[v.Name]; !ok {
			t.Errorf("volume %s is not mounted", v.Name)
		}
	}
	mountOf := func(dir string) (corev1.VolumeMount, corev1.Volume) {
		for name, vm := range mounts {
			if vm.MountPath == dir {
				return vm, volumes[name]
			}
		}
		t.Fatalf("nothing mounted at %s", dir)
		return corev1.VolumeMount{}, corev1.Volume{}
	}
	schedulesDir := path.Clean(path.Join(path.Dir(configPath), "..", "schedules"))
	if got := filepath.Base(cfg.SchedulesDir); got != "schedules" {
		t.Fatalf("schedules_dir %s: the manifests mount schedules beside the config folder", cfg.SchedulesDir)
	}
	for dir, want := range map[string][]string{
		path.Dir(configPath): {path.Base(configPath)},
		schedulesDir:         yamlFiles(t, "kubernetes/schedules"),
	} {
		vm, v := mountOf(dir)
		if !vm.ReadOnly || v.ConfigMap == nil {
			t.Errorf("%s: want a read-only ConfigMap mount", dir)
			continue
		}
		cm := m.configMaps[v.ConfigMap.Name]
		if cm == nil {
			t.Errorf("%s: ConfigMap %s is not in the kustomization", dir, v.ConfigMap.Name)
			continue
		}
		if got := slices.Sorted(maps.Keys(cm.Data)); !slices.Equal(got, want) {
			t.Errorf("ConfigMap %s keys %v, want %v", cm.Name, got, want)
		}
	}
	cm := m.configMaps[volumes[mounts["config"].Name].ConfigMap.Name]
	if data, _ := os.ReadFile("kubernetes/config/exportd.yaml"); cm.Data["exportd.yaml"] != string(data) {
		t.Error("the config ConfigMap is not kubernetes/config/exportd.yaml")
	}
	vm, v := mountOf(cfg.StateDir)
	if vm.ReadOnly || v.EmptyDir == nil {
		t.Errorf("state_dir %s: want a writable emptyDir", cfg.StateDir)
	}
	if !slices.Contains(img.volumes, cfg.StateDir) {
		t.Errorf("the image's VOLUME %v is not state_dir %s", img.volumes, cfg.StateDir)
	}

	// Secrets: every file: reference is a key of the mounted Secret, every
	// ${ENV} reference an environment variable from it; the ServiceMonitor
	// reads the same token.
	files, envs := secretRefs(t, cfg)
	secretName := ""
	for _, f := range files {
		vm, v := mountOf(path.Dir(f))
		if !vm.ReadOnly || v.Secret == nil {
			t.Errorf("%s: want a read-only Secret mount", path.Dir(f))
			continue
		}
		secretName = v.Secret.SecretName
		found := false
		for _, it := range v.Secret.Items {
			found = found || it.Path == path.Base(f)
		}
		if !found {
			t.Errorf("the config reads %s; Secret %s mounts no such key", f, v.Secret.SecretName)
		}
	}
	for _, e := range envs {
		found := false
		for _, ev := range c.Env {
			if ev.Name == e && ev.ValueFrom != nil && ev.ValueFrom.SecretKeyRef != nil {
				found = true
				if ev.ValueFrom.SecretKeyRef.Name != secretName {
					t.Errorf("env %s from Secret %s, files from %s", e, ev.ValueFrom.SecretKeyRef.Name, secretName)
				}
				if e == "EXPORTD_TOKEN" {
					cred := m.monitor.Spec.Endpoints[0].Authorization
					if cred == nil || cred.Credentials == nil || cred.Credentials.Name != secretName || cred.Credentials.Key != ev.ValueFrom.SecretKeyRef.Key {
						t.Errorf("ServiceMonitor authorization %+v: want the token %s/%s (off loopback /metrics needs it)", cred, secretName, ev.ValueFrom.SecretKeyRef.Key)
					}
				}
			}
		}
		if !found {
			t.Errorf("the config reads ${%s}; the container has no such variable from a Secret", e)
		}
	}
	if len(files) < 2 || len(envs) < 1 {
		t.Errorf("secret references %v %v: want the keys and the token", files, envs)
	}

	// NetworkPolicy: in, only the API port; out, DNS and HTTPS.
	np := m.netpol.Spec
	if !slices.Contains(np.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("policyTypes %v, want Ingress and Egress", np.PolicyTypes)
	}
	var inPorts, outPorts []string
	for _, r := range np.Ingress {
		for _, p := range r.Ports {
			inPorts = append(inPorts, portString(p))
		}
		if len(r.Ports) == 0 {
			t.Error("an ingress rule without ports admits every port")
		}
	}
	for _, r := range np.Egress {
		for _, p := range r.Ports {
			outPorts = append(outPorts, portString(p))
		}
		if len(r.Ports) == 0 {
			t.Error("an egress rule without ports allows every port")
		}
	}
	if !slices.Equal(inPorts, []string{"TCP/" + portName}) {
		t.Errorf("ingress ports %v, want only TCP/%s", inPorts, portName)
	}
	slices.Sort(outPorts)
	if !slices.Equal(outPorts, []string{"TCP/443", "TCP/53", "UDP/53"}) {
		t.Errorf("egress ports %v, want DNS and HTTPS", outPorts)
	}
}

func portString(p networkingv1.NetworkPolicyPort) string {
	proto := "TCP"
	if p.Protocol != nil {
		proto = string(*p.Protocol)
	}
	return fmt.Sprintf("%s/%s", proto, p.Port.String())
}

func yamlFiles(t *testing.T, dir string) []string {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schedules in %s", dir)
	}
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	slices.Sort(out)
	return out
}
