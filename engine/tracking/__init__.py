"""FDA device tracking reports (21 CFR 821): what a tracked device's receipt or final sale
tells its manufacturer, and each attempt to deliver it (e-mail, webhook) through Celery."""
