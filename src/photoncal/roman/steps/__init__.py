"""The steps of the Roman WFI exposure pipeline (one module per step).

========================  =====================  ==========================================
step (pipeline name)      strun alias            established name
========================  =====================  ==========================================
dq_init                   roman_dq_init          romancal.dq_init.DQInitStep
saturation                roman_saturation       romancal.saturation.SaturationStep
refpix                    roman_refpix           romancal.refpix.RefPixStep
linearity                 roman_linearity        romancal.linearity.LinearityStep
ramp_fit                  roman_ramp_fit         romancal.ramp_fitting.RampFitStep
dark_current              roman_dark_current     romancal.dark_current.DarkCurrentStep
assign_wcs                roman_assign_wcs       romancal.assign_wcs.AssignWcsStep
flat_field                roman_flat_field       romancal.flatfield.FlatFieldStep
photom                    roman_photom           romancal.photom.PhotomStep
source_catalog            roman_source_catalog   romancal.source_catalog.SourceCatalogStep
tweakreg                  roman_tweakreg         romancal.tweakreg.TweakRegStep
========================  =====================  ==========================================
"""
