"""Environment (生态环境): air quality by China's ambient air quality index (环境空气质量指数).

``aqi`` computes the index of HJ 633 (both the 2012 and the 2026 edition, chosen by the date
of the data); ``reports`` turns series of hourly concentrations into the real-time (实时报)
and daily (日报) reports with the data validity rules of GB 3095-2012 and HJ 663-2013. Both
are pure functions over numbers: the sensing engine feeds them, nothing here touches the
database. See docs/environment.md.
"""
