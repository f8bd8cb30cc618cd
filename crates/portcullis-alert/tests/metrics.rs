//! Delivery counts reach the Prometheus metrics. A test binary of its own, because it
//! installs the process-wide metrics recorder.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use portcullis_alert::{Alert, AlertKind, Alerts, Severity};
use portcullis_core::config::Config;

#[tokio::test]
async fn undelivered_and_delivered_are_counted() {
    let handle = PrometheusBuilder::new().install_recorder().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("webhook.secret");
    std::fs::write(&secret_file, "0123456789abcdef-test-secret").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let text = format!(
        "[alerts]\nlog = true\n[[alerts.webhook]]\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret_file = \"{}\"\n",
        secret_file.display()
    );
    let config = Config::parse(&text).unwrap();
    let alerts = Alerts::start(&config, None).unwrap();

    alerts
        .raise(Alert::new(AlertKind::RepeatedDenials, Severity::Warning, "bob"))
        .await
        .unwrap();
    assert_eq!(alerts.flush(Duration::from_millis(200)).await, 1);

    let rendered = handle.render();
    assert!(
        rendered.contains("portcullis_alerts_undelivered_total{sink=\"webhook[0]\"} 1"),
        "{rendered}"
    );
    assert!(rendered.contains("portcullis_alerts_delivered_total{sink=\"log\"} 1"), "{rendered}");
}
