package main

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// knownKinds maps "apiVersion/kind" to a fresh object of its Go type. A kind missing here fails
// validation on purpose: a template must never slip through unchecked.
var knownKinds = map[string]func() any{
	"v1/ConfigMap":                             func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                func() any { return &corev1.Secret{} },
	"v1/Service":                               func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                        func() any { return &corev1.ServiceAccount{} },
	"v1/Pod":                                   func() any { return &corev1.Pod{} },
	"apps/v1/Deployment":                       func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                      func() any { return &appsv1.StatefulSet{} },
	"policy/v1/PodDisruptionBudget":            func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":   func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/Ingress":             func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":       func() any { return &networkingv1.NetworkPolicy{} },
	"rbac.authorization.k8s.io/v1/Role":        func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding": func() any { return &rbacv1.RoleBinding{} },
	"gateway.networking.k8s.io/v1/HTTPRoute":   func() any { return &gatewayv1.HTTPRoute{} },
	"monitoring.coreos.com/v1/ServiceMonitor":  func() any { return &monitoringv1.ServiceMonitor{} },
}

// namingProblems checks the names the API server validates but JSON decoding cannot: object and
// container names, label keys and values, and port names (at most 15 characters, a classic).
func namingProblems(obj any) []string {
	var out []string
	if meta, ok := obj.(metav1.Object); ok {
		out = append(out, checkName("metadata.name", meta.GetName(), validation.IsDNS1123Subdomain)...)
		out = append(out, checkLabels("label", meta.GetLabels())...)
	}
	var pod *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		pod = &o.Spec.Template
	case *appsv1.StatefulSet:
		pod = &o.Spec.Template
	case *corev1.Pod:
		pod = &corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec}
	case *corev1.Service:
		for i, p := range o.Spec.Ports {
			if p.Name != "" {
				out = append(out, checkName(fmt.Sprintf("spec.ports[%d].name", i), p.Name, validation.IsDNS1123Label)...)
			}
		}
	}
	if pod != nil {
		out = append(out, checkLabels("pod template label", pod.Labels)...)
		containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
		for _, c := range containers {
			out = append(out, checkName("container name", c.Name, validation.IsDNS1123Label)...)
			for _, p := range c.Ports {
				if p.Name != "" {
					out = append(out, checkName(fmt.Sprintf("container %s port name", c.Name), p.Name, validation.IsValidPortName)...)
				}
			}
		}
	}
	return out
}
